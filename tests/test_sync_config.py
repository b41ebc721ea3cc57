"""configs/sync_order_list.toml: the real file is valid; every kind of mistake is named with its key."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core import checks

from syncapp.sync_config import config_problems, get_sync_config

REAL = Path(settings.BASE_DIR) / "configs" / "sync_order_list.toml"


def _problems_with(tmp_path: Path, old: str, new: str, count: int = 1) -> list[str]:
    text = REAL.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in the config"
    path = tmp_path / "sync.toml"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return [str(p) for p in config_problems(path)]


def test_it_accepts_the_repository_configuration():
    assert config_problems() == []
    config = get_sync_config()
    dev, prod = config.environment("development"), config.environment("production")
    assert (dev.items_board_id, dev.subitems_board_id) == (9609317401, 9609317948)
    assert (prod.items_board_id, prod.subitems_board_id) == (9200517329, 9200771505)
    assert dev.token_setting == "MONDAY_API_TOKEN_DEVELOPMENT" and prod.token_setting == "MONDAY_API_TOKEN_PRODUCTION"
    assert "TOTAL QTY" in dev.item_columns and "TOTAL QTY" not in prod.item_columns
    assert config.create_labels["CUSTOMER NAME"] is False and config.create_labels["size"] is True


def test_it_maps_dates_to_date_columns_and_nothing_else_to_them():
    from syncapp.order_tables import columns_by_name

    sources = columns_by_name()
    config = get_sync_config()
    for env in config.environments.values():
        for column, column_id in env.item_columns.items():
            is_date_source = sources[column].base_type == "DATE"
            is_date_column = env.items_board.columns[column_id].type == "date"
            assert is_date_source == is_date_column, (env.name, column, column_id)


def test_it_reports_malformed_toml_with_the_line(tmp_path):
    problems = _problems_with(tmp_path, "[naming]", "[naming")
    assert len(problems) == 1 and "not valid TOML" in problems[0] and "line" in problems[0]


def test_it_reports_an_unknown_environment(tmp_path):
    problems = _problems_with(tmp_path, "[environments.production", "[environments.staging", count=-1)
    assert any("environments.staging" in p and "unknown environment" in p for p in problems)
    assert any("environments.production" in p and "not defined" in p for p in problems)


def test_it_reports_a_column_missing_on_the_board(tmp_path):
    problems = _problems_with(
        tmp_path, '"TOTAL QTY"                                  = "numeric_mktb1d19"', '"TOTAL QTY" = "numeric_nope"'
    )
    assert any('item_columns."TOTAL QTY"' in p and "'numeric_nope' is not on board 9609317401" in p for p in problems)


def test_it_reports_a_read_only_column(tmp_path):
    problems = _problems_with(
        tmp_path,
        '"TOTAL QTY"                                  = "numeric_mktb1d19"',
        '"TOTAL QTY" = "formula_mkre54dj"',
    )
    assert any("read-only formula column" in p for p in problems) or any("is not on board" in p for p in problems)


def test_it_reports_a_date_sent_to_a_text_column(tmp_path):
    problems = _problems_with(
        tmp_path,
        '"EX FACTORY DATE"                            = "date_mkr57811"',
        '"EX FACTORY DATE" = "text_mkr5kbc6"',
    )
    assert any("DATE value cannot be written to text column" in p for p in problems)


def test_it_reports_two_order_columns_writing_one_board_column(tmp_path):
    problems = _problems_with(
        tmp_path,
        '"DESTINATION WAREHOUSE"                      = "text_mkr5ps35"',
        '"DESTINATION WAREHOUSE" = "text_mkr5kbc6"',
    )
    assert any("already written by 'DESTINATION'" in p for p in problems)


def test_it_reports_swapped_or_shared_boards(tmp_path):
    problems = _problems_with(tmp_path, "items_board_id = 9200517329", "items_board_id = 9609317401")
    assert any("share a board" in p or "holds the subitems" in p for p in problems)


def test_it_reports_a_synced_column_that_is_not_hashed(tmp_path):
    problems = _problems_with(tmp_path, '"RANGE / COLLECTION", "TOTAL QTY",', '"TOTAL QTY",')
    assert any("'RANGE / COLLECTION' is synced but not hashed" in p for p in problems)


def test_it_reports_problems_as_system_check_errors(tmp_path, settings):
    path = tmp_path / "broken.toml"
    path.write_text("[environments.development]\nlabel = 3\n", encoding="utf-8")
    settings.ORDEROPS_SYNC_CONFIG = path
    errors = [m for m in checks.run_checks(tags=["orderops"]) if m.id == "orderops.E001"]
    assert errors, "a broken configuration must fail the startup checks"
    assert any("environments.development.label" in e.msg for e in errors)
    assert all(e.hint for e in errors)


def test_it_names_the_file_when_it_is_missing(tmp_path, settings):
    settings.ORDEROPS_SYNC_CONFIG = tmp_path / "absent.toml"
    problems = [str(p) for p in config_problems()]
    assert problems and "ORDEROPS_SYNC_CONFIG" in problems[0] and "does not exist" in problems[0]


@pytest.mark.parametrize("environment", ["staging", "", "PRODUCTION"])
def test_it_refuses_an_unknown_environment_name(environment):
    from syncapp.sync_config import ConfigError

    with pytest.raises(ConfigError, match="unknown environment"):
        get_sync_config().environment(environment)


def test_it_reads_board_wins_columns_by_order_column_id_or_title(tmp_path, settings):
    text = REAL.read_text(encoding="utf-8")
    path = tmp_path / "sync.toml"
    old = "[environments.development.reconcile]\nboard_wins = []"
    assert old in text, "test setup: the development reconcile table is not in the config"
    path.write_text(
        text.replace(
            old, '[environments.development.reconcile]\nboard_wins = ["NOTES", "text_mkr5wcpw", "Alias Related Item"]'
        ),
        encoding="utf-8",
    )
    settings.ORDEROPS_SYNC_CONFIG = path
    assert config_problems(path) == []
    config = get_sync_config()
    dev, prod = config.environment("development"), config.environment("production")
    assert dev.board_wins == {"long_text_mkr5hass", "text_mkr5wcpw", "text_mkrhra2c"}
    assert dev.column_policy("long_text_mkr5hass") == "board_wins"
    assert dev.column_policy("text_mkr5ej2x") == "order_wins"
    assert prod.board_wins == frozenset() and prod.column_policy("long_text_mkr5hass") == "order_wins"


def test_it_reports_an_unknown_board_wins_column(tmp_path):
    problems = _problems_with(
        tmp_path,
        "[environments.production.reconcile]\nboard_wins = []",
        '[environments.production.reconcile]\nboard_wins = ["TOTAL QTY", "NO SUCH COLUMN"]',
    )
    # TOTAL QTY is mapped on development only: production's board_wins cannot name it.
    assert len(problems) == 2, problems
    assert all("environments.production.reconcile.board_wins" in p for p in problems)
    assert any("'NO SUCH COLUMN' is not a column this environment maps" in p and "Fix:" in p for p in problems)


def test_it_reports_board_wins_that_is_not_a_list(tmp_path):
    problems = _problems_with(
        tmp_path,
        "[environments.development.reconcile]\nboard_wins = []",
        '[environments.development.reconcile]\nboard_wins = "NOTES"',
    )
    assert any("environments.development.reconcile.board_wins" in p and "expected a list" in p for p in problems)
