"""pytest plugin: the `emulator` fixture, a real monday emulator on a loopback port.

Load it from tests/conftest.py with `pytest_plugins = ["tests.emulator_fixtures"]`.

    def test_something(emulator):
        client = emulator.client("development")           # a MondayClient pointed at it
        emulator.faults.queue("500", "lost")               # next two requests fail this way
        emulator.state.items                               # what "monday" now holds

Each test gets a fresh emulator (boards from configs/boards, labels from
configs/emulator_labels.json) on a free port, served from a background thread over real HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from syncapp.emulator import limits
from syncapp.emulator.faults import FaultConfig
from syncapp.emulator.server import DEFAULT_TOKENS, EmulatorServer, MondayApi
from syncapp.emulator.state import EmulatorState
from syncapp.monday.client import MondayClient

DEV_ITEMS_BOARD = 9609317401
DEV_SUBITEMS_BOARD = 9609317948
PROD_ITEMS_BOARD = 9200517329
PROD_SUBITEMS_BOARD = 9200771505


@dataclass
class EmulatorHandle:
    server: EmulatorServer
    tokens: dict[str, str]
    sleeps: list[float] = field(default_factory=list)  # waits requested by clients made with .client()
    logs: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def api(self) -> MondayApi:
        return self.server.api

    @property
    def state(self) -> EmulatorState:
        return self.server.state

    @property
    def faults(self) -> FaultConfig:
        return self.server.api.faults

    @property
    def budget(self) -> limits.ComplexityBudget:
        return self.server.api.budget

    @property
    def daily(self) -> limits.DailyCounter:
        return self.server.api.daily

    @property
    def request_log(self) -> list[dict]:
        return list(self.server.api.request_log)

    def client(self, environment: str = "development", **overrides: object) -> MondayClient:
        """A client for `environment`; waits are recorded in `.sleeps` instead of slept, logs in `.logs`."""
        options: dict[str, object] = {
            "api_url": self.url,
            "token": self.tokens[environment],
            "environment": environment,
            "sleep": self.sleeps.append,
            "log": self.logs.append,
            "read_timeout": 5.0,
        }
        options.update(overrides)
        return MondayClient(**options)


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    server = EmulatorServer(
        EmulatorState.from_config(),
        host="127.0.0.1",
        port=0,
        tokens=dict(DEFAULT_TOKENS),
        faults=FaultConfig(seed=20260101),
    )
    server.start()
    try:
        yield EmulatorHandle(server=server, tokens=dict(DEFAULT_TOKENS))
    finally:
        server.stop()
