"""Preflight: is an environment ready to sync? Every check runs live and says how to fix itself.

Used before a production cutover (runbook 3), by the console's preflight page, `manage.py preflight`
and the runbooks' `preflight` check. Each check returns a CheckResult; `ok` False is red. The checks
read only, except that the board check sends two read queries to monday (logged in
ORDER_LIST_API_LOG like every request). Running the checks and recording the result in the audit log
is services/preflight.py (`preflight_run`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core import checks as django_checks
from django.db import connection
from django_q.conf import Conf
from django_q.status import Stat

from syncapp import sync_config
from syncapp.domain.scope import Scope, ScopeError
from syncapp.domain.scope import key as scope_key
from syncapp.models import FactOrderList, SyncRun
from syncapp.monday.client import MondayClient
from syncapp.monday.factory import monday_client
from syncapp.order_tables import (
    FACT_TABLE,
    LINES_TABLE,
    STAGING_TABLE,
    OrderTableError,
    declared_size_columns,
    discover_size_columns,
    line_columns,
    order_columns,
    table_columns,
)
from syncapp.selectors.boards import board_check
from syncapp.selectors.delta_tables import delta_tables_inspect
from syncapp.sync_config import (
    COMPATIBLE_SOURCES,
    READ_ONLY_TYPES,
    ConfigError,
    EnvironmentConfig,
    columns_by_name,
    config_problems,
    get_sync_config,
)

# Check keys, in the order they are run and shown.
CONFIG = "config"
BOARD_FILES = "board_files"
TOKEN = "token"
BOARD = "board"
DATABASE = "database"
ORDER_TABLES = "order_tables"
DELTA_TABLES = "delta_tables"
WORKER = "worker"
DEPLOY_CHECKS = "deploy_checks"
LAST_DEV_RUN = "last_development_run"


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    fix: str = ""  # one sentence; empty when the check is green
    key: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def scope_not_found(scope: Scope) -> list[str]:
    """What a preflight selection names that no order line has, in words: an unknown customer, or
    POs that customer (or, without a customer, anyone) does not have. Empty when all exist."""
    if scope.customer and not FactOrderList.objects.filter(scope.condition()).exists():
        return [
            f"No order line has the customer “{scope.customer}”. Check the spelling on the Orders page "
            "(the customer filter lists every customer), or leave Customer empty."
        ]
    if not scope.pos:
        return []
    found: set[str] = set()
    for queryset in Scope(customer=scope.customer, pos=scope.pos).querysets(FactOrderList.objects.all()):
        found |= {scope_key(po) for po in queryset.values_list("po_number", flat=True).distinct()}
    missing = [po for po in scope.pos if scope_key(po) not in found]
    if not missing:
        return []
    whose = f"the customer “{scope.customer}”" if scope.customer else "any customer"
    listed = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    return [
        f"No order line of {whose} has the PO number{'s' if len(missing) > 1 else ''} {listed}. "
        "Check the numbers on the Orders page, or remove them."
    ]


def preflight_checks(*, environment: str, scope: Scope | None = None) -> list[CheckResult]:
    """Every preflight check for `environment`, in order. `scope` (its customer and POs) selects the
    development run whose success rate is checked; without it, the last development run counts."""
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        (CONFIG, _check_config),
        (BOARD_FILES, lambda: _check_board_files(environment)),
        (TOKEN, lambda: _check_token(environment)),
        (BOARD, lambda: _check_board(environment)),
        (DATABASE, _check_database),
        (ORDER_TABLES, _check_order_tables),
        (DELTA_TABLES, _check_delta_tables),
        (WORKER, _check_worker),
        (DEPLOY_CHECKS, _check_deploy),
        (LAST_DEV_RUN, lambda: _check_last_development_run(scope or Scope())),
    ]
    results = []
    for key, check in checks:
        try:
            result = check()
        except Exception as error:  # one broken check must not hide the others
            result = CheckResult(
                key.replace("_", " "),
                False,
                f"the check itself failed: {type(error).__name__}: {error}",
                "Read the error above, fix its cause and run the preflight again.",
            )
        results.append(CheckResult(result.name, result.ok, result.detail, result.fix if not result.ok else "", key))
    return results


# --- configuration -----------------------------------------------------------------------------------


def _environment(name: str) -> EnvironmentConfig:
    return get_sync_config().environment(name)


def _check_config() -> CheckResult:
    name = "configuration valid"
    problems = config_problems()
    if not problems:
        return CheckResult(name, True, f"{settings.ORDEROPS_SYNC_CONFIG} has no problems.")
    shown = "; ".join(str(p) for p in problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    return CheckResult(
        name,
        False,
        f"{len(problems)} problem(s): {shown}",
        f"Fix {problems[0].key} in the sync configuration ({problems[0].fix}), then run python manage.py check.",
    )


def _check_board_files(environment: str) -> CheckResult:
    name = "board files and column mapping"
    try:
        env = _environment(environment)
    except ConfigError as error:
        return CheckResult(
            name,
            False,
            f"the {environment} environment cannot be read from the configuration: {error}",
            "Fix the configuration problems first (see the configuration check).",
        )
    problems = []
    sources = columns_by_name()
    for board_id in (env.items_board_id, env.subitems_board_id):
        path = sync_config.boards_dir() / f"board_{board_id}.json"
        if not path.exists():
            problems.append(f"{path.name} is missing from configs/boards")
    if not problems:
        # Read from disk again: the cached configuration would not notice a file changed since startup.
        items = sync_config.load_board(env.items_board_id)
        subitems = sync_config.load_board(env.subitems_board_id)
        for order_column, column_id in env.item_columns.items():
            column = items.columns.get(column_id)
            if column is None:
                problems.append(f"{order_column!r} maps to {column_id}, which is not in {items.name}'s file")
            elif column.type in READ_ONLY_TYPES or sources[order_column].base_type not in COMPATIBLE_SOURCES.get(
                column.type, set()
            ):
                problems.append(f"{order_column!r} maps to {column_id}, a {column.type} column it cannot be written to")
        for label, column_id, types in (
            ("size", env.size_column_id, {"dropdown", "text"}),
            ("qty", env.qty_column_id, {"numbers"}),
        ):
            column = subitems.columns.get(column_id)
            if column is None or column.type not in types:
                problems.append(
                    f"the subitem {label} column {column_id} is missing or not {' or '.join(sorted(types))}"
                )
    if problems:
        return CheckResult(
            name,
            False,
            "; ".join(problems),
            "Export the board's columns again into configs/boards and correct the mapping in the sync configuration.",
        )
    return CheckResult(
        name,
        True,
        f"board_{env.items_board_id}.json and board_{env.subitems_board_id}.json present; "
        f"{len(env.item_columns)} mapped columns and the size and qty columns have compatible types.",
    )


def _check_token(environment: str) -> CheckResult:
    name = "monday token configured"
    try:
        env = _environment(environment)
    except ConfigError:
        return CheckResult(name, False, "the configuration is invalid.", "Fix the configuration problems first.")
    if not env.token:
        return CheckResult(
            name,
            False,
            f"{env.token_setting} is not set.",
            f"Set {env.token_setting} to the API token of the monday user who owns the {env.label} boards and restart "
            "the console and the worker.",
        )
    target = (
        "the local emulator" if settings.MONDAY_API_URL == settings.MONDAY_EMULATOR_URL else settings.MONDAY_API_URL
    )
    return CheckResult(name, True, f"{env.token_setting} is set (API: {target}).")


def _check_board(environment: str) -> CheckResult:
    """The live boards have every column the mapping writes, with the type the board file says."""
    name = "board reachable, columns as expected"
    try:
        env = _environment(environment)
    except ConfigError:
        return CheckResult(name, False, "the configuration is invalid.", "Fix the configuration problems first.")
    if not env.token:
        return CheckResult(name, False, f"{env.token_setting} is not set.", f"Set {env.token_setting} first.")
    # Our own client, so the check can say which API version answered (monday serves a deprecated
    # pinned version from its maintenance version and says so in the API-Version response header).
    client = monday_client(env, profile="check")
    try:
        check = board_check(environment, client=client)
    finally:
        client.close()
    answered = _answered_version(client)
    if check.error:
        return CheckResult(
            name,
            False,
            check.error,
            f"Check {env.token_setting}, the board ids in the configuration and that monday is reachable from this host.",
        )
    problems = check.comparison.problems
    if problems:
        return CheckResult(
            name,
            False,
            f"board {check.items_board_name!r} ({check.items_board_id}): " + "; ".join(problems),
            "Restore the column on monday, or export the board again into configs/boards and update the mapping.",
        )
    return CheckResult(
        name,
        True,
        f"{check.items_board_name!r} ({check.items_board_id}) and its subitems board ({check.subitems_board_id}) "
        f"answer; {len(env.item_columns)} mapped columns and the size and qty columns are present with the "
        f"expected types. {answered}",
    )


def _answered_version(client: MondayClient) -> str:
    pinned, answered = client.api_version, client.answered_version
    if not answered:
        return f"monday did not say which API version answered (orderops pins {pinned})."
    if answered == pinned:
        return f"monday answered with API version {answered}, the version orderops pins."
    return (
        f"monday answered with API version {answered}, not the pinned {pinned} (a deprecated version is served "
        "by monday's maintenance version): check monday's API versioning page before the next release."
    )


# --- database -------------------------------------------------------------------------------------------


def _check_database() -> CheckResult:
    name = "database reachable"
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1", [])
            cursor.fetchone()
    except Exception as error:
        return CheckResult(
            name,
            False,
            f"{connection.vendor} database {connection.settings_dict.get('NAME')!s}: {type(error).__name__}: {error}",
            "Check DATABASE_URL (host, port, database, user, password, driver) and that the server accepts connections.",
        )
    return CheckResult(name, True, f"{connection.vendor} database {connection.settings_dict.get('NAME')!s} answers.")


def _check_order_tables() -> CheckResult:
    name = "order tables have the expected columns"
    expected_orders = [c.name for c in order_columns()]
    sizes_declared = len(declared_size_columns())
    expected_lines = [c.name for c in line_columns()]
    non_size = [c for c in expected_orders if c not in set(declared_size_columns())]
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
    problems, found = [], []
    for table, required in ((FACT_TABLE, non_size), (STAGING_TABLE, non_size), (LINES_TABLE, expected_lines)):
        if table not in existing:
            problems.append(f"{table} does not exist")
            continue
        columns = table_columns(table)
        present = set(columns)
        missing = [c for c in required if c not in present]
        if missing:
            problems.append(f"{table} lacks {len(missing)} column(s): {', '.join(missing[:5])}")
        if table == LINES_TABLE:
            found.append(f"{table}: {len(columns)} columns")
            continue
        try:
            sizes = discover_size_columns(table)
        except OrderTableError as error:
            problems.append(str(error))
            continue
        if len(sizes) < sizes_declared:
            problems.append(f"{table} has {len(sizes)} size columns, fewer than the {sizes_declared} expected")
        found.append(f"{table}: {len(columns)} columns, {len(sizes)} sizes")
    if problems:
        return CheckResult(
            name,
            False,
            "; ".join(problems),
            "Point DATABASE_URL at the ORDERS database that holds the production order tables (their layout is in "
            "configs/order_list_columns.tsv); orderops never creates or alters them there.",
        )
    return CheckResult(
        name, True, f"{'; '.join(found)} (expected {len(expected_orders)} columns, {sizes_declared} sizes)."
    )


def _check_delta_tables() -> CheckResult:
    name = "delta tables gone"
    present = [t for t in delta_tables_inspect() if t.exists]
    if present:
        return CheckResult(
            name,
            False,
            " ".join(t.describe() for t in present),
            "Run python manage.py drop_delta_tables, resolve what it reports, then run it with --execute.",
        )
    return CheckResult(name, True, "neither delta table exists.")


# --- runtime --------------------------------------------------------------------------------------------


def _check_worker() -> CheckResult:
    name = "task worker (django-q2 cluster) alive"
    try:
        stats = Stat.get_all()
    except Exception as error:
        return CheckResult(
            name,
            False,
            f"the cluster status cannot be read ({type(error).__name__}: {error}).",
            "Run python manage.py migrate, which creates the cache table the cluster reports to, or check REDIS_URL.",
        )
    alive = [s for s in stats if str(s.status) not in (str(Conf.STOPPED), str(Conf.STOPPING))]
    if not alive:
        return CheckResult(
            name,
            False,
            "no django-q2 cluster has reported in the last few seconds, so queued syncs would never start.",
            "Start the worker (systemctl start orderops-worker, or python manage.py qcluster) and keep it running.",
        )
    hosts = ", ".join(sorted({f"{s.host} ({s.status}, {len(s.workers)} workers)" for s in alive}))
    return CheckResult(name, True, f"{len(alive)} cluster(s): {hosts}.")


def _check_deploy() -> CheckResult:
    name = "check --deploy clean"
    # Django runs its checks in no fixed order; the worst and then by id, so the same settings always
    # read the same.
    messages = sorted(
        (
            m
            for m in django_checks.run_checks(include_deployment_checks=True)
            if m.level >= django_checks.WARNING and not m.is_silenced()
        ),
        key=lambda m: (-m.level, m.id or ""),
    )
    if messages:
        shown = "; ".join(f"{m.id}: {str(m.msg).split('. ')[0]}" for m in messages[:4]) + (
            f"; and {len(messages) - 4} more" if len(messages) > 4 else ""
        )
        return CheckResult(
            name,
            False,
            f"{len(messages)} message(s): {shown}",
            "Run python manage.py check --deploy and correct each setting it names in the environment file.",
        )
    return CheckResult(name, True, "Django's deployment checks report nothing.")


def _check_last_development_run(scope: Scope) -> CheckResult:
    config = get_sync_config()
    threshold = config.success_at_least
    name = f"last development run at {threshold:g} % or better"
    runs = SyncRun.objects.filter(
        environment="development",
        kind__in=(SyncRun.Kind.SYNC, SyncRun.Kind.RETRY),
        dry_run=False,
        status=SyncRun.Status.COMPLETED,
    ).order_by("-finished_at", "-id")
    # Only the customer and the POs select the run (a limit or a list of lines does not).
    wanted = Scope(customer=scope.customer, pos=scope.pos)
    run = next((r for r in runs.iterator() if not wanted or _same_selection(r, wanted)), None)
    what = f"for {wanted.describe()}" if wanted else ""
    if run is None:
        return CheckResult(
            name,
            False,
            f"no completed development run {what}".strip() + ".",
            f"Sync {wanted.describe() if wanted else 'the orders'} to the development board first and verify them "
            "there.",
        )
    if run.success_rate is None or run.success_rate < threshold:
        rate = "nothing synced" if run.success_rate is None else f"{run.success_rate:.1f} %"
        return CheckResult(
            name,
            False,
            f"run {run.pk} {what}: {rate} ({run.failed_count} failed).".replace("  ", " "),
            f"Fix the rows run {run.pk} failed on, retry them, and sync to development again until {threshold:g} % pass.",
        )
    return CheckResult(name, True, f"run {run.pk} {what}: {run.success_rate:.1f} % synced.".replace("  ", " "))


def _same_selection(run: SyncRun, wanted: Scope) -> bool:
    try:
        return Scope.from_dict(run.scope).same_selection(wanted)
    except ScopeError:  # a scope stored by an older version that no longer reads: not this selection
        return False
