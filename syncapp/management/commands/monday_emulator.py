"""python manage.py monday_emulator: run the local monday.com emulator.

    python manage.py monday_emulator                       # http://127.0.0.1:8765/v2, state in memory
    python manage.py monday_emulator --state var/monday.json --port 8765
    python manage.py monday_emulator --fault-500 0.05 --fault-lost 0.01 --latency-ms 50
    python manage.py monday_emulator --fault-throttle-200 0.05 --batch-500 --no-replay
    python manage.py monday_emulator --minute-limit 0 --concurrency-limit 0 --ip-limit 0 --budget 0   # benchmarks

Tokens: the emulator accepts MONDAY_API_TOKEN_DEVELOPMENT and MONDAY_API_TOKEN_PRODUCTION from the
settings; when one is empty it accepts "dev-token" / "prod-token" instead. --tokens overrides both.
Faults can also be set with MONDAY_EMULATOR_FAULTS="500=0.05,lost=0.01,latency_ms=50,batch_500=1"; flags win.
Limits default to monday's documented values (see syncapp/emulator/limits.py); 0 switches one off.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from syncapp.emulator import limits
from syncapp.emulator.faults import ENV_VAR, FAULT_KINDS, FaultConfig
from syncapp.emulator.server import DEFAULT_BOARD_ACCESS, DEFAULT_TOKENS, EmulatorServer, default_tokens
from syncapp.emulator.state import DEFAULT_BOARDS_DIR, DEFAULT_LABELS_FILE, EmulatorState
from syncapp.emulator.versions import ApiVersions


class Command(BaseCommand):
    help = "Run the local monday.com emulator (GraphQL at /v2, board views at /boards/, status at /health)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--state", type=Path, help="JSON file to load at start and save changes to.")
        parser.add_argument("--tokens", help='Accepted tokens, e.g. "development=abc,production=xyz".')
        parser.add_argument("--boards-dir", type=Path, default=DEFAULT_BOARDS_DIR)
        parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS_FILE, help="Seed labels (JSON).")
        parser.add_argument(
            "--budget",
            type=int,
            default=limits.DEFAULT_BUDGET_PER_MINUTE,
            help="Complexity budget per token per minute; 0 for unlimited.",
        )
        parser.add_argument(
            "--budget-window",
            type=float,
            default=limits.BUDGET_WINDOW_SECONDS,
            help="Seconds the complexity budget lasts before it resets (monday: 60; shorter scales it down in time).",
        )
        parser.add_argument("--daily-limit", type=int, default=0, help="API calls per token per day; 0 for none.")
        parser.add_argument(
            "--minute-limit",
            type=int,
            default=limits.DEFAULT_MINUTE_REQUEST_LIMIT,
            help="Requests per token per minute (MINUTE_RATE_LIMIT_EXCEEDED); 0 for none.",
        )
        parser.add_argument(
            "--concurrency-limit",
            type=int,
            default=limits.DEFAULT_CONCURRENCY_LIMIT,
            help="Requests per token in flight at once (MAX_CONCURRENCY_EXCEEDED); 0 for none.",
        )
        parser.add_argument(
            "--ip-limit",
            type=int,
            default=limits.DEFAULT_IP_REQUEST_LIMIT,
            help=f"Requests per address per {limits.IP_WINDOW_SECONDS} s (IP_RATE_LIMIT_EXCEEDED); 0 for none.",
        )
        versions = ApiVersions()
        parser.add_argument("--api-current", default=versions.current, help="The current API version.")
        parser.add_argument("--api-maintenance", default=versions.maintenance, help="The maintenance API version.")
        parser.add_argument(
            "--api-release-candidate", default=versions.release_candidate, help="The release-candidate API version."
        )
        parser.add_argument(
            "--idempotency-budget-bytes",
            type=int,
            default=0,
            help="Idempotency cache per token in bytes (responses that do not fit are not cached); 0 for none.",
        )
        parser.add_argument(
            "--any-board", action="store_true", help="Let every token use every board (no environment separation)."
        )
        parser.add_argument("--faults", default=None, help=f"Fault spec like {ENV_VAR} (overrides the variable).")
        for kind in FAULT_KINDS:
            parser.add_argument(f"--fault-{kind.replace('_', '-')}", type=float, metavar="SHARE", dest=f"fault_{kind}")
        parser.add_argument(
            "--batch-500",
            action="store_true",
            default=None,
            help="Answer a mutation request with one stale item id or malformed value as a whole with HTTP 500.",
        )
        parser.add_argument(
            "--no-replay",
            action="store_true",
            default=None,
            help="Do not cache idempotent responses: a retry with the same Idempotency-Key executes again.",
        )
        parser.add_argument(
            "--throttle-codes",
            help='Codes "throttle_200" faults use in turn, e.g. "tooManyRequests,API_TEMPORARILY_BLOCKED".',
        )
        parser.add_argument(
            "--retry-in-seconds", type=int, help="The wait that 429 and throttle_200 faults ask for (retry_in_seconds)."
        )
        parser.add_argument("--latency-ms", type=int, help="Latency added to every API request.")
        parser.add_argument("--delay-seconds", type=float, help="How long a 'delay' fault holds its response.")
        parser.add_argument("--seed", type=int, help="Seed for random fault draws.")
        parser.add_argument("--quiet", action="store_true", help="Do not log each request.")

    def handle(self, *args: object, **options: object) -> None:
        faults = self._faults(options)
        tokens = self._tokens(options.get("tokens"))
        state_file = options.get("state")
        try:
            state = EmulatorState.load_or_create(state_file, options["boards_dir"], options["labels"])
        except (OSError, ValueError) as exc:
            raise CommandError(f"Could not load the emulator state: {exc}") from exc
        server = EmulatorServer(
            state,
            host=options["host"],
            port=options["port"],
            tokens=tokens,
            faults=faults,
            budget_per_minute=options["budget"] or None,
            budget_window_seconds=options["budget_window"],
            daily_limit=options["daily_limit"] or None,
            minute_limit=options["minute_limit"] or None,
            concurrency_limit=options["concurrency_limit"] or None,
            ip_limit=options["ip_limit"] or None,
            idempotency_budget_bytes=options["idempotency_budget_bytes"] or None,
            api_versions=ApiVersions(
                options["api_current"], options["api_maintenance"], options["api_release_candidate"]
            ),
            board_access=None if options["any_board"] else DEFAULT_BOARD_ACCESS,
            state_file=state_file,
            log=None if options["quiet"] else lambda line: self.stdout.write(line),
        )
        self._banner(server, tokens, faults, state_file)
        _stop_on_sigterm()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Emulator stopped.")

    def _faults(self, options: dict) -> FaultConfig:
        spec = options.get("faults") if options.get("faults") is not None else os.environ.get(ENV_VAR, "")
        try:
            faults = FaultConfig.parse(spec, seed=options.get("seed"))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for kind in FAULT_KINDS:
            share = options.get(f"fault_{kind}")
            if share is not None:
                if not 0 <= share <= 1:
                    raise CommandError(f"--fault-{kind} must be a share between 0 and 1, got {share}.")
                faults.rates[kind] = share
        if options.get("latency_ms") is not None:
            faults.latency_ms = options["latency_ms"]
        if options.get("delay_seconds") is not None:
            faults.delay_seconds = options["delay_seconds"]
        if options.get("retry_in_seconds") is not None:
            faults.retry_in_seconds = options["retry_in_seconds"]
        if options.get("throttle_codes"):
            faults.throttle_codes = tuple(c.strip() for c in str(options["throttle_codes"]).split(",") if c.strip())
        for mode in ("batch_500", "no_replay"):
            if options.get(mode):
                setattr(faults, mode, True)
        return faults

    def _tokens(self, spec: object) -> dict[str, str]:
        if not spec:
            return default_tokens(settings.MONDAY_API_TOKEN_DEVELOPMENT, settings.MONDAY_API_TOKEN_PRODUCTION)
        tokens: dict[str, str] = {}
        for part in str(spec).split(","):
            environment, _, token = part.partition("=")
            if not environment.strip() or not token.strip():
                raise CommandError(f'--tokens expects "environment=token,...", got {part!r}.')
            tokens[environment.strip()] = token.strip()
        return tokens

    def _banner(self, server: EmulatorServer, tokens: dict[str, str], faults: FaultConfig, state_file: object) -> None:
        write = self.stdout.write
        write(self.style.WARNING("monday EMULATOR - a local stand-in, not monday.com"))
        write(f"  API:    {server.url}")
        write(f"  Boards: {server.base_url}/boards/    Health: {server.base_url}/health")
        for environment in sorted(tokens):
            # The documented fallback tokens are not secrets, so say which one is in use; real ones stay hidden.
            fallback = tokens[environment] == DEFAULT_TOKENS.get(environment)
            source = f'"{tokens[environment]}" (default)' if fallback else "the configured token"
            write(f"  Token for {environment}: {source}")
        write(f"  State:  {state_file or 'in memory only'}")
        if faults.rates or faults.latency_ms or faults.batch_500 or faults.no_replay:
            write(f"  Faults: {faults.describe()}")
        api = server.api
        limits_line = ", ".join(
            f"{name} {value if value is not None else 'off'}"
            for name, value in (
                ("minute", api.minute.limit),
                ("concurrency", api.concurrency.limit),
                (f"ip/{limits.IP_WINDOW_SECONDS}s", api.ip.limit),
                ("complexity/min", api.budget.per_minute),
            )
        )
        write(f"  Limits: {limits_line}")
        write(f"  API versions: {api.versions.describe()}")


def _stop_on_sigterm() -> None:
    """Treat SIGTERM (docker stop, systemd) like Ctrl-C, so the state file gets its final save."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
