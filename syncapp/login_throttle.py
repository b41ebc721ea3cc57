"""Throttling of repeated failed sign-ins, per user name and per address.

Enforced in the authentication backend, so every way in (the console's login page and the Django
admin's) is covered; the console's login form checks first to say plainly what happened.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import user_logged_in, user_login_failed
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from syncapp.models import LoginFailure


def _address(request: HttpRequest | None) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def _recent(username: str, address: str | None):
    since = timezone.now() - timedelta(seconds=settings.ORDEROPS_LOGIN_LOCKOUT_SECONDS)
    by_name = LoginFailure.objects.filter(username__iexact=username, created_at__gte=since).count()
    by_address = LoginFailure.objects.filter(address=address, created_at__gte=since).count() if address else 0
    return by_name, by_address


def is_locked_out(username: str, request: HttpRequest | None) -> bool:
    limit = settings.ORDEROPS_LOGIN_FAILURE_LIMIT
    by_name, by_address = _recent(username or "", _address(request))
    # An address gets more room than one name: an office shares one address.
    return by_name >= limit or by_address >= limit * 4


def lockout_message() -> str:
    minutes = max(1, settings.ORDEROPS_LOGIN_LOCKOUT_SECONDS // 60)
    return (
        f"Too many failed sign-ins. Sign-in is paused for {minutes} minutes for this user name; "
        "try again later, or ask an admin to reset your password."
    )


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username and is_locked_out(username, request):
            raise PermissionDenied(lockout_message())
        return super().authenticate(request, username=username, password=password, **kwargs)


class ThrottledAuthenticationForm(AuthenticationForm):
    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if username and is_locked_out(username, self.request):
            raise ValidationError(lockout_message(), code="throttled")
        return super().clean()


@receiver(user_login_failed)
def _record_failure(sender, credentials, request=None, **kwargs) -> None:
    LoginFailure.objects.create(username=(credentials or {}).get("username", "")[:150], address=_address(request))


@receiver(user_logged_in)
def _clear_failures(sender, request, user, **kwargs) -> None:
    LoginFailure.objects.filter(username__iexact=user.get_username()).delete()
