"""Fault injection for the emulator: the failures monday and the network produce, on demand.

Faults apply to POST /v2 only. Each request draws at most one fault: first from `script` (a queue
tests fill to make the next requests fail in a known order), else at random from `rates`.

    kind              what the client sees                                           mutation applied?
    500 / 502 / 503   that HTTP status (502 with an HTML body, like a proxy)          no
    429               HTTP 429, `rate_limit_code`, extensions.retry_in_seconds and    no
                      a Retry-After header
    429_retry_after   HTTP 429 with only a Retry-After header                         no
    429_bare          HTTP 429 with neither (client must back off on its own)         no
    423               HTTP 423, board locked                                          no
    malformed         HTTP 200 with truncated JSON                                    no
    html              HTTP 200 with an HTML error page                                no
    lost              connection closed without any response                          yes
    delay             response held for `delay_seconds` (past the client timeout)     yes

`latency_ms` is added to every request. Configuration comes from command-line flags, from the
MONDAY_EMULATOR_FAULTS environment variable (same syntax as `parse`), or at run time through the
test fixture's `.faults`.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field

FAULT_KINDS: tuple[str, ...] = (
    "500",
    "502",
    "503",
    "429",
    "429_retry_after",
    "429_bare",
    "423",
    "malformed",
    "html",
    "lost",
    "delay",
)
APPLIED_FAULTS = frozenset({"lost", "delay"})
ENV_VAR = "MONDAY_EMULATOR_FAULTS"
_SETTINGS = {"latency_ms": int, "delay_seconds": float, "retry_in_seconds": int, "retry_after_seconds": int}


@dataclass
class FaultConfig:
    rates: dict[str, float] = field(default_factory=dict)  # share of requests per kind, 0..1
    latency_ms: int = 0
    delay_seconds: float = 5.0
    retry_in_seconds: int = 1  # what a "429" fault asks the client to wait
    retry_after_seconds: int = 1  # the Retry-After header of "429" / "429_retry_after" faults
    rate_limit_code: str = "RATE_LIMIT_EXCEEDED"
    seed: int | None = None
    script: deque[str] = field(default_factory=deque)
    injected: dict[str, int] = field(default_factory=dict)  # how many of each were served

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        for kind in self.rates:
            _check_kind(kind)

    def queue(self, *kinds: str) -> None:
        """Force the next requests' faults, in order ("none" lets one request through)."""
        for kind in kinds:
            if kind != "none":
                _check_kind(kind)
        with self._lock:
            self.script.extend(kinds)

    def clear(self) -> None:
        with self._lock:
            self.script.clear()
            self.rates.clear()
            self.latency_ms = 0

    def pick(self) -> str | None:
        with self._lock:
            kind = self.script.popleft() if self.script else self._draw()
            if kind in (None, "none"):
                return None
            self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind

    def _draw(self) -> str | None:
        roll = self._rng.random()
        for kind, rate in self.rates.items():
            if roll < rate:
                return kind
            roll -= rate
        return None

    def describe(self) -> dict[str, object]:
        with self._lock:
            return {
                "rates": dict(self.rates),
                "latency_ms": self.latency_ms,
                "delay_seconds": self.delay_seconds,
                "retry_in_seconds": self.retry_in_seconds,
                "retry_after_seconds": self.retry_after_seconds,
                "rate_limit_code": self.rate_limit_code,
                "queued": list(self.script),
                "injected": dict(self.injected),
            }

    @classmethod
    def parse(cls, spec: str, seed: int | None = None) -> FaultConfig:
        """Parse "500=0.05,429=0.02,lost=0.01,latency_ms=50,delay_seconds=3" (kind=share or setting=value)."""
        config = cls(seed=seed)
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            name, _, raw = part.partition("=")
            name = name.strip()
            if name in _SETTINGS:
                setattr(config, name, _SETTINGS[name](raw))
            elif name == "rate_limit_code":
                config.rate_limit_code = raw.strip()
            else:
                _check_kind(name)
                config.rates[name] = _share(name, raw)
        return config


def _check_kind(kind: str) -> None:
    if kind not in FAULT_KINDS:
        raise ValueError(f"Unknown fault '{kind}'; known faults: {', '.join(FAULT_KINDS)}.")


def _share(name: str, raw: str) -> float:
    share = float(raw)
    if not 0 <= share <= 1:
        raise ValueError(f"Fault share for '{name}' must be between 0 and 1, got {raw}.")
    return share
