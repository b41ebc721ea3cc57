from __future__ import annotations

from django.apps import AppConfig


class SyncappConfig(AppConfig):
    name = "syncapp"
    verbose_name = "orderops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the configuration checks (Django system checks run them at startup).
        from syncapp import checks, login_throttle  # noqa: F401

        # Connects the worker heartbeat to django-q2's post_spawn, so a starting worker is seen at once.
        from syncapp.tasks import health  # noqa: F401
