"""The running emulator's controls: faults and labels changed from its board view, without a restart.

Trainers stage failures during a walkthrough (runbook 05): a burst of 429s, a share of 500s or of
throttles inside HTTP 200, latency, or a dropdown label removed from a column so the next sync of
that customer fails for a missing label. The form on /boards/ posts here (POST /boards/controls).

The emulator is a local stand-in and its controls change what every client sees, so a change is
accepted only from this machine (a loopback peer) and, when the browser says where the form came
from (Origin, Referer, Sec-Fetch-Site), only from the emulator's own pages: another site open in the
trainer's browser cannot post to it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from syncapp.emulator.faults import FaultConfig
from syncapp.emulator.state import EmulatorState

CONTROLS_PATH = "/boards/controls"
# The random faults a trainer sets by share, with what the sync sees, in the form's words.
SHARED_FAULTS: tuple[tuple[str, str], ...] = (
    ("429", "429 Too Many Requests (rate limited)"),
    ("500", "HTTP 500 (monday failed)"),
    ("throttle_200", "throttled inside HTTP 200"),
)
MAX_BURST = 500
MAX_LATENCY_MS = 60_000
LABEL_TYPES = frozenset({"dropdown", "status"})


class ControlError(ValueError):
    """A control request that cannot be applied; the message says what to change."""


@dataclass(frozen=True)
class Outcome:
    status: int  # 303 after a change, 400 for a bad value, 403 when refused
    message: str


def refusal(peer_host: str, headers: Mapping[str, str]) -> str:
    """Why a control request is refused, or "" when it comes from this machine's own board view."""
    try:
        local = ipaddress.ip_address(peer_host.strip("[]")).is_loopback
    except ValueError:
        local = False
    if not local:
        return "The emulator's controls accept changes from this machine only."
    host = (headers.get("Host") or "").lower()
    if (headers.get("Sec-Fetch-Site") or "").lower() == "cross-site":
        return "The emulator's controls accept changes from its own board pages only."
    for name in ("Origin", "Referer"):
        value = headers.get(name)
        if value and value != "null" and urlsplit(value).netloc.lower() != host:
            return "The emulator's controls accept changes from its own board pages only."
    return ""


def apply(state: EmulatorState, faults: FaultConfig, body: bytes) -> Outcome:
    """Apply one submitted control form; the message says what changed, in words."""
    form = {name: values[-1].strip() for name, values in parse_qs(body.decode("utf-8", "replace")).items()}
    action = form.get("action", "")
    try:
        if action == "faults":
            return Outcome(303, _set_faults(faults, form))
        if action == "clear_faults":
            faults.clear()
            return Outcome(303, "All faults cleared: every request is answered normally, without added latency.")
        if action in {"label_add", "label_remove"}:
            return Outcome(303, _change_label(state, form, add=action == "label_add"))
    except ControlError as error:
        return Outcome(400, str(error))
    return Outcome(400, f"Unknown control {action!r}: use the buttons on the boards page.")


def describe(faults: FaultConfig) -> str:
    """The faults now in force, in words ("none" when every request is answered normally)."""
    now = faults.describe()
    parts = [f"{_label(kind)}: {share:.0%} of requests" for kind, share in now["rates"].items()]
    if now["queued"]:
        parts.append(f"next {len(now['queued'])} request(s) queued to fail ({', '.join(now['queued'][:3])}…)")
    if now["latency_ms"]:
        parts.append(f"{now['latency_ms']} ms added to every request")
    return "; ".join(parts) or "none: every request is answered normally"


def label_columns(state: EmulatorState) -> list[tuple[dict, dict]]:
    """(board, column) for every dropdown and status column of every board, in board order."""
    with state.lock:
        return [(b, c) for b in state.boards.values() for c in b["columns"] if c["type"] in LABEL_TYPES]


def _set_faults(faults: FaultConfig, form: dict[str, str]) -> str:
    rates = {kind: _percent(form.get(f"share_{kind}", ""), label) / 100 for kind, label in SHARED_FAULTS}
    latency = _whole(form.get("latency_ms", ""), "Latency", MAX_LATENCY_MS)
    burst = _whole(form.get("burst_429", ""), "The 429 burst", MAX_BURST)
    try:
        faults.configure(rates=rates, latency_ms=latency)
    except ValueError as error:
        raise ControlError(f"{error} Lower the shares and apply again.") from None
    if burst:
        faults.queue(*["429"] * burst)
    return f"Faults now: {describe(faults)}."


def _change_label(state: EmulatorState, form: dict[str, str], *, add: bool) -> str:
    board_id, _, column_id = form.get("column", "").partition(":")
    text = form.get("label", "")
    if not text:
        raise ControlError("Type the label to add or remove.")
    with state.lock:
        board = state.board(board_id)
        column = state.column(board, column_id) if board else None
        if column is None or column["type"] not in LABEL_TYPES:
            raise ControlError("Choose a dropdown or status column from the list.")
        where = f"the {column['title']} column of {board['name']} ({board['id']})"
        if add:
            existing = state.find_label(board, column_id, text)
            state.add_label(board, column, text)
            return f"“{text}” {'was already' if existing else 'is now'} a label of {where}."
        labels = state.labels(board, column_id)
        found = next((entry for entry in labels if entry["label"].casefold() == text.casefold()), None)
        if found is None:
            raise ControlError(f"“{text}” is not a label of {where}, so nothing was removed.")
        labels.remove(found)
        state.touch()  # the state file saver writes on the next tick
    return (
        f"“{found['label']}” is no longer a label of {where}. Items that show it keep their text; the next "
        "write of it fails as at monday when labels may not be created."
    )


def _percent(raw: str, label: str) -> float:
    try:
        value = float(raw or 0)
    except ValueError:
        raise ControlError(f"{label}: “{raw}” is not a number; give a percentage from 0 to 100.") from None
    if not 0 <= value <= 100:
        raise ControlError(f"{label}: {raw}% is not between 0 and 100.")
    return value


def _whole(raw: str, label: str, maximum: int) -> int:
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) > maximum:
        raise ControlError(f"{label}: “{raw}” is not a whole number from 0 to {maximum}.")
    return int(raw)


def _label(kind: str) -> str:
    return dict(SHARED_FAULTS).get(kind, kind)
