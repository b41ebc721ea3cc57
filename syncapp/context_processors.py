from __future__ import annotations

from django.http import HttpRequest

from syncapp.selectors.environments import environment_banner as banner_for


def environment_banner(request: HttpRequest) -> dict:
    """The environment banner shown on every page (active environment, board, EMULATOR)."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"banner": banner_for()}
