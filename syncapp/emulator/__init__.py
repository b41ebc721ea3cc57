"""A local stand-in for monday.com's GraphQL API, for development, demos and tests.

Start it with `python manage.py monday_emulator`; tests use the `emulator` fixture in
tests/emulator_fixtures.py. It is never monday: the console marks it EMULATOR.
"""

from __future__ import annotations

from syncapp.emulator.faults import FaultConfig
from syncapp.emulator.server import DEFAULT_TOKENS, EmulatorServer, MondayApi, default_tokens
from syncapp.emulator.state import EmulatorState

__all__ = ["DEFAULT_TOKENS", "EmulatorServer", "EmulatorState", "FaultConfig", "MondayApi", "default_tokens"]
