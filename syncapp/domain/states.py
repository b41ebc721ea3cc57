"""The row-state machine of FACT_ORDER_LIST and ORDER_LIST_LINES, in one place.

Each order line carries `sync_state` and `action_type`. The engine takes
`sync_state='PENDING' AND action_type IN ('INSERT','UPDATE')`. Every change of state is one of the
named transitions below, written by `syncapp.engine.row_states.rows_transition`, which adds the
transition's source states to the UPDATE's WHERE: a row in another state is left alone, so an
illegal transition cannot be written, even by two writers racing.

    NEW/SYNCED/ERROR/COMPLETED/PENDING --mark pending--> PENDING (INSERT or UPDATE)
    NEW/SYNCED/ERROR/COMPLETED/PENDING --mark completed--> COMPLETED (NONE)
    PENDING (INSERT/UPDATE) --claim--> CLAIMED          the run that claimed it owns it
    CLAIMED --release--> PENDING                        the run stopped before the row's fate was known
    CLAIMED --synced--> SYNCED
    CLAIMED --changed while claimed--> PENDING (UPDATE) a merge changed the row during the run
    CLAIMED --failed--> ERROR
    CLAIMED --skipped--> COMPLETED (NONE)
    ERROR --retry--> PENDING (INSERT or UPDATE)
    not CLAIMED --restored--> PENDING (INSERT or UPDATE) a rollback gave the row back

The merge (raw SQL for speed) moves changed rows to PENDING and leaves CLAIMED rows CLAIMED with a
new action; it uses these constants in its statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    NEW = "NEW"
    PENDING = "PENDING"
    CLAIMED = "CLAIMED"
    SYNCED = "SYNCED"
    ERROR = "ERROR"
    COMPLETED = "COMPLETED"


class Action(StrEnum):
    INSERT = "INSERT"
    UPDATE = "UPDATE"
    NONE = "NONE"


CLAIMABLE_ACTIONS = (Action.INSERT.value, Action.UPDATE.value)
ALL_STATES = frozenset(State)
NOT_CLAIMED = ALL_STATES - {State.CLAIMED}


@dataclass(frozen=True)
class Transition:
    """A named change of state: from any of `sources` to `target`.

    `actions` lists the action_type values the transition may write; empty means the row keeps
    its action_type. `from_null` lets rows with no state yet (NULL, like NEW) take it.
    """

    name: str
    sources: frozenset[State]
    target: State
    actions: tuple[Action, ...] = ()
    from_null: bool = False

    def action_for(self, action: str | None) -> str | None:
        """The action_type to write (None: unchanged); ValueError for one the transition does not allow."""
        if not self.actions:
            if action is not None:
                raise ValueError(f"the {self.name} transition keeps the row's action_type")
            return None
        if action is None and len(self.actions) == 1:
            return self.actions[0].value
        if action not in self.actions:
            allowed = ", ".join(a.value for a in self.actions)
            raise ValueError(f"the {self.name} transition writes action_type {allowed}, not {action!r}")
        return Action(action).value


MARK_PENDING = Transition("mark pending", NOT_CLAIMED, State.PENDING, (Action.INSERT, Action.UPDATE), from_null=True)
MARK_COMPLETED = Transition("mark completed", NOT_CLAIMED, State.COMPLETED, (Action.NONE,), from_null=True)
CLAIM = Transition("claim", frozenset({State.PENDING}), State.CLAIMED)
RELEASE = Transition("release", frozenset({State.CLAIMED}), State.PENDING)
SYNCED = Transition("synced", frozenset({State.CLAIMED}), State.SYNCED)
CHANGED_WHILE_CLAIMED = Transition("changed while claimed", frozenset({State.CLAIMED}), State.PENDING, (Action.UPDATE,))
FAILED = Transition("failed", frozenset({State.CLAIMED}), State.ERROR)
SKIPPED = Transition("skipped", frozenset({State.CLAIMED}), State.COMPLETED, (Action.NONE,))
RETRY = Transition("retry", frozenset({State.ERROR}), State.PENDING, (Action.INSERT, Action.UPDATE))
RESTORED = Transition("restored", NOT_CLAIMED, State.PENDING, (Action.INSERT, Action.UPDATE), from_null=True)

TRANSITIONS = (
    MARK_PENDING,
    MARK_COMPLETED,
    CLAIM,
    RELEASE,
    SYNCED,
    CHANGED_WHILE_CLAIMED,
    FAILED,
    SKIPPED,
    RETRY,
    RESTORED,
)

# Size lines (ORDER_LIST_LINES) follow their order line but are never claimed: while the order line
# is CLAIMED its size lines keep the state they had. These are the transitions a size line takes.
LINE_TRANSITIONS = {
    MARK_PENDING.name: Transition("mark pending", NOT_CLAIMED, State.PENDING, (Action.INSERT, Action.UPDATE), True),
    MARK_COMPLETED.name: Transition("mark completed", NOT_CLAIMED, State.COMPLETED, (Action.NONE,), True),
    SYNCED.name: Transition("synced", NOT_CLAIMED, State.SYNCED, (), True),
    FAILED.name: Transition("failed", NOT_CLAIMED, State.ERROR, (), True),
    SKIPPED.name: Transition("skipped", NOT_CLAIMED, State.COMPLETED, (Action.NONE,), True),
    RETRY.name: Transition("retry", NOT_CLAIMED, State.PENDING, (), True),
    RESTORED.name: Transition("restored", NOT_CLAIMED, State.PENDING, (Action.INSERT, Action.UPDATE), True),
}
