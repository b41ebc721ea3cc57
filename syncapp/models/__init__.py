from __future__ import annotations

from syncapp.models.alerts import Alert, AlertDelivery
from syncapp.models.api import ApiIdempotencyKey, ApiToken
from syncapp.models.console import AuditEntry, ConsoleSettings, LoginFailure, StepTick, Walkthrough
from syncapp.models.health import WorkerHeartbeat
from syncapp.models.orders import ActionType, FactOrderList, OrderLine, StagedOrder, SyncState
from syncapp.models.reconcile import ReconcileFinding
from syncapp.models.schedules import ScheduleSlot, SyncSchedule
from syncapp.models.sync import (
    ApiCall,
    BoardChange,
    BoardGroup,
    Environment,
    ItemLink,
    RowResult,
    SubitemLink,
    SyncRun,
)

__all__ = [
    "ActionType",
    "Alert",
    "AlertDelivery",
    "ApiCall",
    "ApiIdempotencyKey",
    "ApiToken",
    "AuditEntry",
    "BoardChange",
    "BoardGroup",
    "ConsoleSettings",
    "Environment",
    "FactOrderList",
    "ItemLink",
    "LoginFailure",
    "OrderLine",
    "ReconcileFinding",
    "RowResult",
    "ScheduleSlot",
    "StagedOrder",
    "StepTick",
    "SubitemLink",
    "SyncRun",
    "SyncSchedule",
    "SyncState",
    "Walkthrough",
    "WorkerHeartbeat",
]
