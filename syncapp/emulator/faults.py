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
    throttle_200      HTTP 200 whose `errors` carry a throttle code (the next of      no
                      `throttle_codes`, in turn), extensions.retry_in_seconds and a
                      Retry-After header; monday answers some throttles this way

Modes (not drawn per request; set as flags, `mode=1` in the spec, or on `.faults`):

    batch_500         a mutation request in which one alias names a stale (missing, deleted)
                      item or sends a malformed value is answered as a whole with HTTP 500 and
                      nothing of it is applied, as monday may do, instead of the per-alias error
    no_replay         idempotent responses are not cached: a retry with the same
                      Idempotency-Key executes again (monday's replay is best-effort)

`latency_ms` is added to every request. Configuration comes from command-line flags, from the
MONDAY_EMULATOR_FAULTS environment variable (same syntax as `parse`), or at run time through the
test fixture's `.faults` or the running emulator's controls on /boards/ (syncapp/emulator/controls.py).
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
    "throttle_200",
)
APPLIED_FAULTS = frozenset({"lost", "delay"})
# Throttle codes monday has been seen to return inside HTTP 200 (issue #12; the rate-limits page's codes).
THROTTLE_200_CODES: tuple[str, ...] = (
    "tooManyRequests",
    "API_TEMPORARILY_BLOCKED",
    "MINUTE_RATE_LIMIT_EXCEEDED",
    "MAX_CONCURRENCY_EXCEEDED",
    "IP_RATE_LIMIT_EXCEEDED",
    "COMPLEXITY_BUDGET_EXHAUSTED",
)
MODES: tuple[str, ...] = ("batch_500", "no_replay")
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
    throttle_codes: tuple[str, ...] = THROTTLE_200_CODES  # used in turn by "throttle_200" faults
    batch_500: bool = False
    no_replay: bool = False
    seed: int | None = None
    script: deque[str] = field(default_factory=deque)
    injected: dict[str, int] = field(default_factory=dict)  # how many of each were served

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        self._throttles_served = 0
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
            self.batch_500 = False
            self.no_replay = False

    def configure(self, *, rates: dict[str, float], latency_ms: int) -> None:
        """Replace the random fault shares and the latency at run time (the board view's controls).

        Checked whole before anything changes, so a bad value leaves the running faults as they were."""
        for kind, share in rates.items():
            _check_kind(kind)
            if not 0 <= share <= 1:
                raise ValueError(f"Fault share for '{kind}' must be between 0 and 1, got {share}.")
        if sum(rates.values()) > 1:
            raise ValueError("The fault shares add up to more than 100% of the requests.")
        if latency_ms < 0:
            raise ValueError(f"Latency must be 0 or more milliseconds, got {latency_ms}.")
        with self._lock:
            self.rates = {kind: share for kind, share in rates.items() if share > 0}
            self.latency_ms = latency_ms

    def pick(self) -> str | None:
        with self._lock:
            kind = self.script.popleft() if self.script else self._draw()
            if kind in (None, "none"):
                return None
            self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind

    def next_throttle_code(self) -> str:
        with self._lock:
            code = self.throttle_codes[self._throttles_served % len(self.throttle_codes)]
            self._throttles_served += 1
            return code

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
                "throttle_codes": list(self.throttle_codes),
                "batch_500": self.batch_500,
                "no_replay": self.no_replay,
                "queued": list(self.script),
                "injected": dict(self.injected),
            }

    @classmethod
    def parse(cls, spec: str, seed: int | None = None) -> FaultConfig:
        """Parse "500=0.05,lost=0.01,latency_ms=50,batch_500=1,throttle_codes=tooManyRequests|API_TEMPORARILY_BLOCKED".

        Each part is kind=share, setting=value or mode=1.
        """
        config = cls(seed=seed)
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            name, _, raw = part.partition("=")
            name = name.strip()
            if name in _SETTINGS:
                setattr(config, name, _SETTINGS[name](raw))
            elif name == "rate_limit_code":
                config.rate_limit_code = raw.strip()
            elif name == "throttle_codes":
                config.throttle_codes = tuple(filter(None, (c.strip() for c in raw.split("|")))) or THROTTLE_200_CODES
            elif name in MODES:
                setattr(config, name, raw.strip().lower() in {"1", "true", "on", "yes", ""})
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
