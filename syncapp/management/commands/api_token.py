"""API tokens for the orchestrator and scripts: create (prints the token once), list, revoke."""

from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from syncapp.models import ApiToken
from syncapp.services.api_tokens import ApiTokenError, api_token_create, api_token_revoke, api_tokens_list


class Command(BaseCommand):
    help = (
        "Manage API tokens. create --name NAME --role ops|admin prints a new token once (only its hash is kept); "
        "list shows every token without secrets; revoke --name NAME refuses the token from now on."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = sub.add_parser("create", help="make a token; it is printed once")
        create.add_argument("--name", required=True, help="e.g. kestra-hourly (letters, digits, . - _)")
        create.add_argument("--role", required=True, choices=[r.value for r in ApiToken.Role])
        sub.add_parser("list", help="every token: name, role, prefix, created, last used, revoked")
        revoke = sub.add_parser("revoke", help="refuse a token from now on")
        revoke.add_argument("--name", required=True)

    def handle(self, *args, action: str, **options):
        try:
            if action == "create":
                self._create(options["name"], options["role"])
            elif action == "revoke":
                token = api_token_revoke(name=options["name"], via="cli")
                self.stdout.write(
                    f"revoked {token.name} ({token.prefix}…); its user {token.user.get_username()} is off."
                )
            else:
                self._list()
        except ApiTokenError as error:
            raise CommandError(str(error)) from error

    def _create(self, name: str, role: str) -> None:
        new = api_token_create(name=name, role=role, created_by=f"cli:{getpass.getuser()}", via="cli")
        self.stderr.write(
            f"API token {new.token.name} ({role}) acts as {new.token.user.get_username()}. "
            "It is shown once, here; orderops keeps only its hash. Store it in the caller's secret store now."
        )
        self.stdout.write(new.secret)

    def _list(self) -> None:
        tokens = api_tokens_list()
        if not tokens:
            self.stdout.write("no API tokens (python manage.py api_token create --name NAME --role ops|admin)")
            return
        self.stdout.write(f"{'NAME':24} {'ROLE':6} {'PREFIX':12} {'CREATED':17} {'LAST USED':17} STATE")
        for token in tokens:
            self.stdout.write(
                f"{token.name:24} {token.role:6} {token.prefix:12} {_when(token.created_at):17} "
                f"{_when(token.last_used_at):17} "
                + (f"revoked {_when(token.revoked_at)}" if token.revoked_at else "active")
            )


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M}Z" if moment else "never"
