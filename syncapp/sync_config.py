"""configs/sync_order_list.toml: loaded, validated and cached in one place.

`config_problems()` returns every problem with the key that holds it and how to fix it; Django's
system checks report them at startup (syncapp/checks.py), and `get_sync_config()` refuses to hand
out a configuration that has any.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from syncapp.monday.column_values import READ_ONLY_TYPES
from syncapp.order_tables import columns_by_name

ENVIRONMENTS = ("development", "production")
TOKEN_SETTINGS = ("MONDAY_API_TOKEN_DEVELOPMENT", "MONDAY_API_TOKEN_PRODUCTION")

# monday column types orderops may write, and which SQL source types may go to each. A DATE goes
# to a date column and nowhere else; text never goes to a numbers column (monday rejects it).
_TEXTUAL = {"NVARCHAR", "VARCHAR", "CHAR", "NCHAR"}
_NUMERIC = {"DECIMAL", "INT", "SMALLINT", "BIGINT"}
COMPATIBLE_SOURCES = {
    "text": _TEXTUAL | _NUMERIC,
    "long_text": _TEXTUAL | _NUMERIC,
    "dropdown": _TEXTUAL,
    "status": _TEXTUAL,
    "numbers": _NUMERIC,
    "date": {"DATE"},
}
# A create_item with its column values costs about 30,000 complexity; monday allows 5,000,000 per query.
MAX_QUERY_COMPLEXITY = 5_000_000
CREATE_ITEM_COMPLEXITY = 30_000


@dataclass(frozen=True)
class BoardColumn:
    id: str
    title: str
    type: str


@dataclass(frozen=True)
class Board:
    board_id: int
    name: str
    kind: str
    parent_board_id: int | None
    columns: dict[str, BoardColumn]


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    label: str
    items_board: Board
    subitems_board: Board
    token_setting: str
    item_columns: dict[str, str]  # order column -> monday column id
    size_column_id: str
    qty_column_id: str
    # Mapped item columns (monday column ids) people own on monday: a reconcile keeps the board's
    # value and marks the drift for review instead of writing the order's value back.
    board_wins: frozenset[str] = frozenset()

    @property
    def items_board_id(self) -> int:
        return self.items_board.board_id

    @property
    def subitems_board_id(self) -> int:
        return self.subitems_board.board_id

    @property
    def token(self) -> str:
        return getattr(settings, self.token_setting, "") or ""

    @property
    def is_production(self) -> bool:
        return self.name == "production"

    def column_type(self, order_column: str) -> str:
        return self.items_board.columns[self.item_columns[order_column]].type

    def describe(self) -> str:
        return f"{self.label} board {self.items_board.name!r} ({self.items_board_id})"

    def column_policy(self, column_id: str) -> str:
        """ "board_wins" for a column people own on monday, else "order_wins" (the default)."""
        return "board_wins" if column_id in self.board_wins else "order_wins"


@dataclass(frozen=True)
class Naming:
    group_columns: tuple[str, ...]
    group_fallback_column: str
    item_name_columns: tuple[str, ...]
    item_name_separator: str
    subitem_name_prefix: str


@dataclass(frozen=True)
class SyncSettings:
    items_per_request: int
    subitems_per_request: int
    updates_per_request: int
    max_retries: int
    max_wait_seconds: float
    connect_timeout_seconds: float
    read_timeout_seconds: float
    throttle_below_fraction: float
    stale_run_seconds: int


@dataclass(frozen=True)
class SyncConfig:
    path: Path
    environments: dict[str, EnvironmentConfig]
    create_labels: dict[str, bool]  # order column (or "size") -> may create missing labels
    naming: Naming
    hash_columns: tuple[str, ...]
    merge_batch_rows: int
    sync: SyncSettings
    success_at_least: float
    needs_attention_at_least: float
    mapped_columns: tuple[str, ...] = field(default=())

    def environment(self, name: str) -> EnvironmentConfig:
        try:
            return self.environments[name]
        except KeyError:
            raise ConfigError(
                [Problem("environment", f"unknown environment {name!r}", f"use one of: {', '.join(ENVIRONMENTS)}")]
            ) from None

    def outcome_for(self, success_rate: float | None) -> str:
        if success_rate is None or success_rate >= self.success_at_least:
            return "SUCCESS"
        if success_rate >= self.needs_attention_at_least:
            return "NEEDS ATTENTION"
        return "FAILED"


@dataclass(frozen=True)
class Problem:
    key: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"[{self.key}] {self.message}. Fix: {self.fix}."


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def boards_dir() -> Path:
    return Path(settings.BASE_DIR) / "configs" / "boards"


def load_board(board_id: int) -> Board:
    path = boards_dir() / f"board_{board_id}.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Board(
        board_id=int(raw["board_id"]),
        name=raw["name"],
        kind=raw["kind"],
        parent_board_id=int(raw["parent_board_id"]) if raw.get("parent_board_id") else None,
        columns={c["id"]: BoardColumn(c["id"], c["title"], c["type"]) for c in raw["columns"]},
    )


# --- loading -------------------------------------------------------------------------------


_cache: dict[tuple[str, float], SyncConfig] = {}


def config_path() -> Path:
    return Path(settings.ORDEROPS_SYNC_CONFIG)


def get_sync_config() -> SyncConfig:
    """The validated configuration, re-read when the file changes."""
    path = config_path()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        raise ConfigError([_missing_file(path)]) from None
    key = (str(path), mtime)
    if key not in _cache:
        config, problems = _build(path)
        if problems:
            raise ConfigError(problems)
        _cache.clear()
        _cache[key] = config
    return _cache[key]


def config_problems(path: Path | None = None) -> list[Problem]:
    return _build(path or config_path())[1]


def _missing_file(path: Path) -> Problem:
    return Problem(
        "ORDEROPS_SYNC_CONFIG",
        f"the sync configuration {path} does not exist",
        "point ORDEROPS_SYNC_CONFIG at configs/sync_order_list.toml or restore that file from the repository",
    )


def _build(path: Path) -> tuple[SyncConfig | None, list[Problem]]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, [_missing_file(path)]
    except tomllib.TOMLDecodeError as error:
        return None, [Problem(str(path), f"the file is not valid TOML ({error})", "correct the syntax at that line")]
    reader = _Reader(raw)
    config = reader.read(path)
    return (None if reader.problems else config), reader.problems


class _Reader:
    """Reads the raw TOML into a SyncConfig, collecting every problem instead of stopping at the first."""

    def __init__(self, raw: dict):
        self.raw = raw
        self.problems: list[Problem] = []
        self.order_columns = columns_by_name()

    def problem(self, key: str, message: str, fix: str) -> None:
        self.problems.append(Problem(key, message, fix))

    def table(self, data: dict, key: str, path: str) -> dict:
        value = data.get(key)
        if not isinstance(value, dict):
            self.problem(path, "this table is missing", f"add a [{path}] table (see the repository's copy)")
            return {}
        return value

    def value(self, data: dict, key: str, path: str, kind: type | tuple, default=None):
        if key not in data:
            if default is not None:
                return default
            self.problem(path, "this key is missing", f"add {path} to the configuration")
            return default
        value = data[key]
        if isinstance(value, bool) and kind is not bool:
            value = None
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.problem(path, f"expected a {names}, found {data[key]!r}", f"set {path} to a {names}")
            return default
        return value

    def read(self, path: Path) -> SyncConfig | None:
        environments = self.read_environments()
        create_labels = self.read_labels(environments)
        naming = self.read_naming()
        hash_columns = self.read_hash_columns(environments, naming)
        sync = self.read_sync()
        outcome = self.table(self.raw, "outcome", "outcome")
        success = self.value(outcome, "success_at_least", "outcome.success_at_least", (int, float), 95.0)
        attention = self.value(
            outcome, "needs_attention_at_least", "outcome.needs_attention_at_least", (int, float), 80.0
        )
        if not 0 <= attention <= success <= 100:
            self.problem(
                "outcome",
                f"thresholds {success} / {attention} are out of order",
                "use 0 <= needs_attention_at_least <= success_at_least <= 100",
            )
        merge = self.raw.get("merge", {})
        batch_rows = self.value(merge, "batch_rows", "merge.batch_rows", int, 2000)
        if self.problems or sync is None or naming is None:
            return None
        mapped = sorted({c for env in environments.values() for c in env.item_columns})
        return SyncConfig(
            path=path,
            environments=environments,
            create_labels=create_labels,
            naming=naming,
            hash_columns=tuple(hash_columns),
            merge_batch_rows=batch_rows,
            sync=sync,
            success_at_least=float(success),
            needs_attention_at_least=float(attention),
            mapped_columns=tuple(mapped),
        )

    def read_environments(self) -> dict[str, EnvironmentConfig]:
        tables = self.table(self.raw, "environments", "environments")
        for name in tables:
            if name not in ENVIRONMENTS:
                self.problem(
                    f"environments.{name}",
                    f"unknown environment {name!r}",
                    f"orderops knows {', '.join(ENVIRONMENTS)}; rename or remove this table",
                )
        environments = {}
        for name in ENVIRONMENTS:
            if name not in tables:
                self.problem(f"environments.{name}", "this environment is not defined", f"add [environments.{name}]")
                continue
            env = self.read_environment(name, tables[name])
            if env:
                environments[name] = env
        self.check_environments_apart(environments)
        return environments

    def read_board(self, key: str, board_id: object, kind: str) -> Board | None:
        if not isinstance(board_id, int) or isinstance(board_id, bool):
            self.problem(key, f"expected a board id (a number), found {board_id!r}", f"set {key} to the board's id")
            return None
        path = boards_dir() / f"board_{board_id}.json"
        if not path.exists():
            self.problem(
                key,
                f"board {board_id} has no definition file {path.name} in configs/boards",
                "check the board id, or add the board's column definition to configs/boards",
            )
            return None
        board = load_board(board_id)
        if board.kind != kind:
            self.problem(
                key, f"board {board_id} is a {board.kind} board, not a {kind} board", f"use the {kind} board's id"
            )
            return None
        return board

    def read_environment(self, name: str, data: dict) -> EnvironmentConfig | None:
        prefix = f"environments.{name}"
        label = self.value(data, "label", f"{prefix}.label", str, "")
        items = self.read_board(f"{prefix}.items_board_id", data.get("items_board_id"), "items")
        subitems = self.read_board(f"{prefix}.subitems_board_id", data.get("subitems_board_id"), "subitems")
        token_setting = self.value(data, "token_env", f"{prefix}.token_env", str, "")
        if token_setting and token_setting not in TOKEN_SETTINGS:
            self.problem(
                f"{prefix}.token_env", f"{token_setting!r} is not a token setting", f"use one of {TOKEN_SETTINGS}"
            )
        if items and subitems and subitems.parent_board_id != items.board_id:
            self.problem(
                f"{prefix}.subitems_board_id",
                f"board {subitems.board_id} holds the subitems of board {subitems.parent_board_id}, not of {items.board_id}",
                "use the subitems board that belongs to this environment's items board",
            )
        item_columns = self.read_item_columns(prefix, self.table(data, "item_columns", f"{prefix}.item_columns"), items)
        sub = self.table(data, "subitem_columns", f"{prefix}.subitem_columns")
        size_id = self.read_subitem_column(
            f"{prefix}.subitem_columns.size", sub.get("size"), subitems, {"dropdown", "text"}
        )
        qty_id = self.read_subitem_column(f"{prefix}.subitem_columns.qty", sub.get("qty"), subitems, {"numbers"})
        board_wins = self.read_board_wins(prefix, data.get("reconcile", {}), item_columns, items)
        if not (items and subitems and size_id and qty_id and label and token_setting):
            return None
        return EnvironmentConfig(
            name=name,
            label=label,
            items_board=items,
            subitems_board=subitems,
            token_setting=token_setting,
            item_columns=item_columns,
            size_column_id=size_id,
            qty_column_id=qty_id,
            board_wins=board_wins,
        )

    def read_item_columns(self, prefix: str, mapping: dict, board: Board | None) -> dict[str, str]:
        seen: dict[str, str] = {}
        result = {}
        for order_column, column_id in mapping.items():
            key = f'{prefix}.item_columns."{order_column}"'
            source = self.order_columns.get(order_column)
            if source is None or source.role != "order":
                self.problem(
                    key,
                    f"{order_column!r} is not a business column of FACT_ORDER_LIST",
                    "use the column's exact name from configs/order_list_columns.tsv",
                )
                continue
            if board is None:
                continue
            column = board.columns.get(column_id) if isinstance(column_id, str) else None
            if column is None:
                self.problem(
                    key,
                    f"column {column_id!r} is not on board {board.board_id} ({board.name})",
                    "use a column id from that board's file in configs/boards, or remove the mapping",
                )
                continue
            if column.type in READ_ONLY_TYPES:
                self.problem(
                    key,
                    f"column {column_id!r} ({column.title}) is a read-only {column.type} column",
                    "map a writable column, or remove the mapping",
                )
                continue
            allowed = COMPATIBLE_SOURCES.get(column.type, set())
            if source.base_type not in allowed:
                self.problem(
                    key,
                    f"a {source.sql_type} value cannot be written to {column.type} column "
                    f"{column_id!r} ({column.title})",
                    "map the order column to a column of a matching type",
                )
                continue
            if column_id in seen:
                self.problem(
                    key,
                    f"column {column_id!r} is already written by {seen[column_id]!r}",
                    "map each board column from one order column only",
                )
                continue
            seen[column_id] = order_column
            result[order_column] = column_id
        return result

    def read_board_wins(
        self, prefix: str, reconcile: object, item_columns: dict[str, str], board: Board | None
    ) -> frozenset[str]:
        """[<env>.reconcile] board_wins: mapped columns named by order column, monday column id or
        title, as monday column ids. Optional; every name must be a column this environment maps."""
        key = f"{prefix}.reconcile.board_wins"
        if not isinstance(reconcile, dict):
            self.problem(f"{prefix}.reconcile", "expected a table", f"write it as [{prefix}.reconcile]")
            return frozenset()
        names = self.value(reconcile, "board_wins", key, list, [])
        if board is None:
            return frozenset()
        by_name = {name.casefold(): column_id for name, column_id in item_columns.items()}
        by_name.update({column_id.casefold(): column_id for column_id in item_columns.values()})
        for column_id in item_columns.values():
            by_name.setdefault(board.columns[column_id].title.casefold(), column_id)
        result = set()
        for name in names:
            column_id = by_name.get(name.casefold()) if isinstance(name, str) else None
            if column_id is None:
                self.problem(
                    key,
                    f"{name!r} is not a column this environment maps to board {board.board_id} ({board.name})",
                    f"name a mapped column by its order column, monday column id or title (see {prefix}.item_columns), "
                    "or remove it",
                )
                continue
            result.add(column_id)
        return frozenset(result)

    def read_subitem_column(self, key: str, column_id: object, board: Board | None, types: set[str]) -> str | None:
        if board is None:
            return None
        column = board.columns.get(column_id) if isinstance(column_id, str) else None
        if column is None:
            self.problem(
                key,
                f"column {column_id!r} is not on subitems board {board.board_id}",
                "use a column id from that board's file in configs/boards",
            )
            return None
        if column.type not in types:
            self.problem(
                key, f"column {column_id!r} is a {column.type} column", f"use a {' or '.join(sorted(types))} column"
            )
            return None
        return column.id

    def check_environments_apart(self, environments: dict[str, EnvironmentConfig]) -> None:
        """The old CLI had its boards swapped and shared ids between them; refuse any overlap."""
        if len(environments) < 2:
            return
        dev, prod = environments["development"], environments["production"]
        if {dev.items_board_id, dev.subitems_board_id} & {prod.items_board_id, prod.subitems_board_id}:
            self.problem(
                "environments",
                "development and production share a board",
                "give each environment its own items and subitems boards",
            )
        if dev.token_setting == prod.token_setting:
            self.problem(
                "environments",
                "development and production use the same token setting",
                "give each environment its own token_env",
            )

    def read_labels(self, environments: dict[str, EnvironmentConfig]) -> dict[str, bool]:
        labels = self.table(self.table(self.raw, "labels", "labels"), "create_if_missing", "labels.create_if_missing")
        result = {}
        for column, allowed in labels.items():
            key = f'labels.create_if_missing."{column}"'
            if not isinstance(allowed, bool):
                self.problem(key, f"expected true or false, found {allowed!r}", "set it to true or false")
                continue
            if column != "size" and not any(column in env.item_columns for env in environments.values()):
                self.problem(key, f"{column!r} is not mapped in any environment", "remove it or map the column")
                continue
            result[column] = allowed
        return result

    def read_naming(self) -> Naming | None:
        data = self.table(self.raw, "naming", "naming")
        group_columns = self.value(data, "group_columns", "naming.group_columns", list, [])
        fallback = self.value(data, "group_fallback_column", "naming.group_fallback_column", str, "")
        item_columns = self.value(data, "item_name_columns", "naming.item_name_columns", list, [])
        for key, names in (
            ("naming.group_columns", group_columns),
            ("naming.item_name_columns", item_columns),
            ("naming.group_fallback_column", [fallback] if fallback else []),
        ):
            for name in names:
                if name not in self.order_columns:
                    self.problem(key, f"{name!r} is not a column of FACT_ORDER_LIST", "use exact column names")
        if not item_columns:
            self.problem("naming.item_name_columns", "no columns make the item name", "list at least one column")
        return Naming(
            group_columns=tuple(group_columns),
            group_fallback_column=fallback,
            item_name_columns=tuple(item_columns),
            item_name_separator=self.value(data, "item_name_separator", "naming.item_name_separator", str, " - "),
            subitem_name_prefix=self.value(data, "subitem_name_prefix", "naming.subitem_name_prefix", str, "Size "),
        )

    def read_hash_columns(self, environments: dict[str, EnvironmentConfig], naming: Naming | None) -> list[str]:
        data = self.table(self.raw, "merge", "merge")
        columns = self.value(data, "hash_columns", "merge.hash_columns", list, [])
        for name in columns:
            if name not in self.order_columns:
                self.problem(
                    "merge.hash_columns", f"{name!r} is not a column of FACT_ORDER_LIST", "use exact column names"
                )
        needed = {c for env in environments.values() for c in env.item_columns}
        if naming:
            needed |= set(naming.group_columns) | set(naming.item_name_columns)
            needed |= {naming.group_fallback_column} - {""}
        for name in sorted(needed - set(columns)):
            self.problem(
                "merge.hash_columns",
                f"{name!r} is synced but not hashed, so its changes would never reach the board",
                f'add "{name}" to merge.hash_columns',
            )
        return columns

    def read_sync(self) -> SyncSettings | None:
        data = self.table(self.raw, "sync", "sync")
        ints = {
            k: self.value(data, k, f"sync.{k}", int, None)
            for k in (
                "items_per_request",
                "subitems_per_request",
                "updates_per_request",
                "max_retries",
                "stale_run_seconds",
            )
        }
        floats = {
            k: self.value(data, k, f"sync.{k}", (int, float), None)
            for k in ("max_wait_seconds", "connect_timeout_seconds", "read_timeout_seconds", "throttle_below_fraction")
        }
        for key, value in {**ints, **floats}.items():
            if value is not None and value < 0:
                self.problem(f"sync.{key}", f"{value} is negative", "use a positive number")
        for key in ("items_per_request", "subitems_per_request", "updates_per_request"):
            value = ints[key]
            if value is not None and not 1 <= value * CREATE_ITEM_COMPLEXITY <= MAX_QUERY_COMPLEXITY:
                self.problem(
                    f"sync.{key}",
                    f"{value} mutations per request would exceed monday's per-query complexity",
                    f"use 1 to {MAX_QUERY_COMPLEXITY // CREATE_ITEM_COMPLEXITY}",
                )
        fraction = floats["throttle_below_fraction"]
        if fraction is not None and not 0 <= fraction < 1:
            self.problem("sync.throttle_below_fraction", f"{fraction} is not a share of the budget", "use 0 to 0.9")
        if any(v is None for v in {**ints, **floats}.values()):
            return None
        return SyncSettings(**ints, **floats)
