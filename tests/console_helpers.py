"""Helpers for the console's view tests: order data, runs in a given state, selections."""

from __future__ import annotations

from django.core.management import call_command
from django.utils import timezone

from syncapp.models import ConsoleSettings, FactOrderList, RowResult, SyncRun
from syncapp.selectors.orders import po_key_value

DEV_BOARD, DEV_SUBITEMS = 9609317401, 9609317948
PROD_BOARD, PROD_SUBITEMS = 9200517329, 9200771505
PROD_BOARD_NAME = "Customer Master Schedule"


def orders(n: int = 60) -> None:
    """Demo orders, merged: every order line PENDING/INSERT; GREYSON PO 4755 has 7 lines."""
    call_command("seed_demo", orders=n, no_users=True, verbosity=0)
    call_command("merge_orders", verbosity=0)


def key(customer: str, po: str) -> str:
    return po_key_value(customer, po)


def activate(environment: str) -> None:
    ConsoleSettings.objects.update_or_create(pk=1, defaults={"active_environment": environment})


def make_run(
    *, environment: str = "development", status: str = "completed", dry_run: bool = False, **fields
) -> SyncRun:
    prod = environment == "production"
    now = timezone.now()
    defaults = {
        "environment": environment,
        "items_board_id": PROD_BOARD if prod else DEV_BOARD,
        "subitems_board_id": PROD_SUBITEMS if prod else DEV_SUBITEMS,
        "status": status,
        "dry_run": dry_run,
        "scope": {"customer": "GREYSON", "pos": ["4755"]},
        "started_at": now,
        "heartbeat_at": now,
        "finished_at": None if status in SyncRun.ACTIVE_STATUSES else now,
    }
    defaults.update(fields)
    return SyncRun.objects.create(**defaults)


def add_result(run: SyncRun, line: FactOrderList, *, outcome: str = "synced", message: str = "", **fields) -> RowResult:
    return RowResult.objects.create(
        run=run,
        record_uuid=line.record_uuid,
        aag_order_number=line.aag_order_number,
        customer_name=line.customer_name,
        po_number=line.po_number,
        action=fields.pop("action", "create"),
        outcome=outcome,
        message=message,
        **fields,
    )


def set_line(aag_order_number: str, **values) -> None:
    FactOrderList.objects.filter(aag_order_number=aag_order_number).update(**values)
