"""Which order lines an action touches: one typed Scope for the console, the CLI, the queue and the API.

A scope names at most one customer, any number of PO numbers, optionally the exact order lines
(record uuids) and a limit. It is stored on a run as JSON (`to_dict`/`from_dict`, the keys
`customer`, `pos`, `record_uuids`, `limit`), parsed from what a person typed (`parse`), described
in words (`describe`), turned into queries (`querysets`) and compared with a row (`matches`).

The case rule is one for every caller: customer names and PO numbers are compared without case and
without outer spaces, which is how SQL Server's `_CI_` collation compares them in production (it
also ignores trailing spaces). On SQL Server the column comparison is left to the collation so the
indexes are used; on SQLite and PostgreSQL the comparison is made on upper-cased values.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Upper
from django.db.models.lookups import Exact, In

# SQL Server accepts at most 2,100 parameters per statement; lists are queried in chunks of this size.
IN_CHUNK = 1000
SCOPE_KEYS = frozenset({"customer", "pos", "record_uuids", "limit"})


class ScopeError(ValueError):
    """A scope could not be read; `field` names what was wrong (customer, pos, record_uuids, limit)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def key(value: object) -> str:
    """The form a customer name or PO number is compared in: no outer spaces, upper case."""
    return str(value or "").strip().upper()


def same(a: object, b: object) -> bool:
    """True when two customer names (or two PO numbers) are the same under the case rule."""
    return key(a) == key(b)


@dataclass(frozen=True)
class Scope:
    customer: str = ""
    pos: tuple[str, ...] = ()
    record_uuids: tuple[str, ...] = ()
    limit: int | None = None

    # --- building ----------------------------------------------------------------------------

    @classmethod
    def parse(
        cls,
        *,
        customer: object = None,
        pos: Iterable[object] | None = None,
        record_uuids: Iterable[object] | None = None,
        limit: object = None,
    ) -> Scope:
        """A scope from what a person or a program sent; ScopeError names the field that is wrong."""
        if customer is not None and not isinstance(customer, str):
            raise ScopeError("customer", "The customer must be a name (text).")
        if pos is not None and (isinstance(pos, str | bytes) or not isinstance(pos, Iterable)):
            raise ScopeError("pos", "The PO numbers must be a list.")
        cleaned_pos = []
        for po in pos or []:
            if not isinstance(po, str | int) or isinstance(po, bool):
                raise ScopeError("pos", "Each PO number must be text.")
            if str(po).strip():
                cleaned_pos.append(str(po).strip())
        if record_uuids is not None and (
            isinstance(record_uuids, str | bytes) or not isinstance(record_uuids, Iterable)
        ):
            raise ScopeError("record_uuids", "The order lines must be a list of record uuids.")
        uuids = []
        for value in record_uuids or []:
            try:
                uuids.append(str(uuid.UUID(str(value))))
            except ValueError:
                raise ScopeError("record_uuids", f"{str(value)[:40]!r} is not a record uuid.") from None
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise ScopeError("limit", "The limit must be a whole number of order lines.")
            if limit < 1:
                raise ScopeError("limit", "The limit must be a positive number of order lines.")
        return cls(
            customer=(customer or "").strip(),
            pos=_unique(cleaned_pos),
            record_uuids=tuple(sorted(set(uuids))),
            limit=limit,
        )

    @classmethod
    def from_dict(cls, data: Mapping | None) -> Scope:
        """A scope stored on a run (or carried in a form) as JSON; ScopeError when it is not one."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ScopeError("scope", "The selection could not be read.")
        unknown = set(data) - SCOPE_KEYS
        if unknown:
            raise ScopeError(sorted(unknown)[0], f"{sorted(unknown)[0]!r} is not part of a selection.")
        return cls.parse(
            customer=data.get("customer"),
            pos=data.get("pos"),
            record_uuids=data.get("record_uuids"),
            limit=data.get("limit"),
        )

    def to_dict(self) -> dict:
        data: dict = {}
        if self.customer:
            data["customer"] = self.customer
        if self.pos:
            data["pos"] = list(self.pos)
        if self.record_uuids:
            data["record_uuids"] = list(self.record_uuids)
        if self.limit is not None:
            data["limit"] = self.limit
        return data

    # --- reading -------------------------------------------------------------------------------

    @property
    def is_everything(self) -> bool:
        """True when the scope selects every order line (no customer, PO, line or limit)."""
        return not (self.customer or self.pos or self.record_uuids or self.limit)

    def __bool__(self) -> bool:
        return not self.is_everything

    def describe(self) -> str:
        parts = []
        if self.customer:
            parts.append(f"customer {self.customer}")
        if self.pos:
            shown = ", ".join(self.pos[:5])
            parts.append(f"PO {shown}" + (f" and {len(self.pos) - 5} more" if len(self.pos) > 5 else ""))
        if self.record_uuids:
            parts.append(f"{len(self.record_uuids)} order lines")
        if self.limit:
            parts.append(f"at most {self.limit} lines")
        return ", ".join(parts) or "all pending order lines"

    def matches(self, customer: object, po: object, record_uuid: object = None) -> bool:
        """True when an order line with this customer, PO (and record uuid) is in the scope.

        The limit is not applied here: it counts lines in sync order, which one row cannot know.
        """
        if self.customer and not same(customer, self.customer):
            return False
        if self.pos and key(po) not in {key(p) for p in self.pos}:
            return False
        return not (self.record_uuids and record_uuid is not None and str(record_uuid) not in self.record_uuids)

    def same_selection(self, other: Scope) -> bool:
        """True when two scopes name the same customer and POs under the case rule (lines and limit aside)."""
        return key(self.customer) == key(other.customer) and {key(p) for p in self.pos} == {key(p) for p in other.pos}

    # --- querying ------------------------------------------------------------------------------

    def condition(self, *, customer_field: str = "customer_name") -> Q:
        """The customer part of the scope as a condition (one parameter)."""
        return customer_equals(customer_field, self.customer) if self.customer else Q()

    def querysets(
        self, base: QuerySet, *, po_field: str = "po_number", customer_field: str = "customer_name"
    ) -> list[QuerySet]:
        """`base` narrowed to the scope, as one queryset per chunk of at most IN_CHUNK PO numbers and
        IN_CHUNK record uuids (SQL Server's 2,100 parameter limit). The limit is not applied."""
        base = base.filter(self.condition(customer_field=customer_field))
        po_chunks = [list(self.pos[i : i + IN_CHUNK]) for i in range(0, len(self.pos), IN_CHUNK)] or [None]
        uuid_chunks = [list(self.record_uuids[i : i + IN_CHUNK]) for i in range(0, len(self.record_uuids), IN_CHUNK)]
        result = []
        for po_chunk in po_chunks:
            narrowed = base if po_chunk is None else base.filter(values_in(po_field, po_chunk))
            if uuid_chunks:
                result += [narrowed.filter(record_uuid__in=chunk) for chunk in uuid_chunks]
            else:
                result.append(narrowed)
        return result


def customer_equals(field: str, value: str) -> Q:
    """`field` equals `value` under the case rule."""
    if connection.vendor == "microsoft":
        return Q(**{field: value.strip()})
    return Q(Exact(Upper(field), _db_key(value)))


def values_in(field: str, values: list[str]) -> Q:
    """`field` is one of `values` under the case rule (at most IN_CHUNK values)."""
    if connection.vendor == "microsoft":
        return Q(**{f"{field}__in": [v.strip() for v in values]})
    return Q(In(Upper(field), sorted({_db_key(v) for v in values})))


def _db_key(value: str) -> str:
    """`key(value)` as the database's UPPER() computes it: SQLite's changes ASCII letters only, so
    `Ünïcode` is `ÜNïCODE` there, and comparing it with Python's `ÜNÏCODE` would find nothing."""
    if connection.vendor == "sqlite":
        return "".join(c.upper() if c.isascii() else c for c in str(value or "").strip())
    return key(value)


def _unique(values: list[str]) -> tuple[str, ...]:
    """Sorted, one of each under the case rule (the first spelling wins)."""
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(key(value), value)
    return tuple(sorted(seen.values()))
