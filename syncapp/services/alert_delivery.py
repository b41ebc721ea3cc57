"""Sending alerts: email through Django's mail framework, webhooks as JSON through requests.

One AlertDelivery per message and target. A delivery is claimed with a compare-and-set UPDATE (its
attempt count is the version), so the task queued on commit and the every-minute check never send
it twice. A failure is logged and retried after ORDEROPS_ALERT_RETRY_MINUTES (1, 5, 15, 60 by
default), then marked failed; nothing here raises into a run.

Webhook URLs carry their secret in the path or the query (Teams' `sig=`, Slack's
`/services/T…/B…/…`): only `redact_url`'s form and a hash are stored or logged, and the URL itself
is read from the settings when the message goes out.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from syncapp.models import Alert, AlertDelivery
from syncapp.selectors.alerts import deliveries_due

logger = logging.getLogger(__name__)

# A claimed delivery whose worker died is tried again after this long.
CLAIM_LEASE = timedelta(minutes=5)


# --- targets -------------------------------------------------------------------------------------


def webhook_urls(raw: object = None) -> list[str]:
    """ORDEROPS_ALERT_WEBHOOKS as a list: a JSON list of URLs, or a comma list. Problems are
    reported by `webhook_problems` (Django's checks); here a value that cannot be read is empty."""
    value = settings.ORDEROPS_ALERT_WEBHOOKS if raw is None else raw
    if isinstance(value, list | tuple):
        return [str(u).strip() for u in value if str(u).strip()]
    text = str(value or "").strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            return []
        return [str(u).strip() for u in parsed if isinstance(u, str) and u.strip()] if isinstance(parsed, list) else []
    return [u.strip() for u in text.split(",") if u.strip()]


def webhook_problems(raw: object = None) -> list[str]:
    value = settings.ORDEROPS_ALERT_WEBHOOKS if raw is None else raw
    text = value if isinstance(value, str) else ""
    if text.strip().startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError as error:
            return [f"it starts with '[' but is not valid JSON ({error.msg} at character {error.pos})"]
        if not isinstance(parsed, list) or not all(isinstance(u, str) for u in parsed):
            return ["as JSON it must be a list of URL strings"]
    problems = []
    for url in webhook_urls(value):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(f"{redact_url(url)!r} is not an http(s) URL")
    return problems


def email_problems(addresses: list[str] | None = None) -> list[str]:
    problems = []
    for address in settings.ORDEROPS_ALERT_EMAILS if addresses is None else addresses:
        try:
            validate_email(address)
        except ValidationError:
            problems.append(f"{address!r} is not an email address")
    return problems


def redact_url(url: str) -> str:
    """The URL as logs and the console show it: scheme, host and the first path segment; the rest
    of the path and the query (where webhook secrets live) replaced by an ellipsis."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return "(not a URL)"
    segments = [s for s in parts.path.split("/") if s]
    shown = f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
    if segments:
        shown += f"/{segments[0]}"
    if len(segments) > 1 or parts.query:
        shown += "/…"
    return shown


def _scrub(text: str, url: str) -> str:
    """An error text with every piece of the webhook's secret removed (requests puts the path in its
    connection errors)."""
    parts = urlsplit(url)
    path_query = parts.path + (f"?{parts.query}" if parts.query else "")
    for secret in sorted({url, path_query, parts.path, parts.query}, key=len, reverse=True):
        if secret and secret != "/":
            text = text.replace(secret, "/…")
    return text


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Target:
    channel: str
    address: str  # the email address or the full webhook URL
    shown: str  # what logs and the console show

    @property
    def hash(self) -> str:
        return _hash(self.address)


def alert_targets() -> list[Target]:
    emails = [Target(AlertDelivery.Channel.EMAIL, a, a) for a in settings.ORDEROPS_ALERT_EMAILS if a]
    hooks = [Target(AlertDelivery.Channel.WEBHOOK, u, redact_url(u)) for u in webhook_urls()]
    return emails + hooks


def _target_for(delivery: AlertDelivery) -> Target | None:
    """The delivery's target as configured now: a webhook removed from the settings is not sent to."""
    if delivery.channel == AlertDelivery.Channel.EMAIL:
        return Target(delivery.channel, delivery.target, delivery.target)
    return next((t for t in alert_targets() if t.channel == delivery.channel and t.hash == delivery.target_hash), None)


# --- creating and queueing deliveries ------------------------------------------------------------


def deliveries_create(*, alert: Alert, event: str, enqueue: bool = True) -> list[int]:
    """One delivery per configured target for `event` of `alert`; queued once committed. Creating
    them again for the same event adds none (a unique constraint per event and target)."""
    ids = []
    for target in alert_targets():
        try:
            with transaction.atomic():
                delivery = AlertDelivery.objects.create(
                    alert=alert,
                    event=event,
                    channel=target.channel,
                    target=target.shown[:255],
                    target_hash=target.hash,
                    next_attempt_at=timezone.now(),
                )
        except IntegrityError:
            continue
        ids.append(delivery.pk)
    if ids and enqueue:
        transaction.on_commit(lambda: deliveries_enqueue(ids=ids), robust=True)
    return ids


def deliveries_enqueue(*, ids: list[int]) -> None:
    """Queue the sending; if the queue cannot be reached the every-minute check sends them."""
    try:
        # django_q imports its cluster machinery on import; only a process that queues work needs it.
        from django_q.tasks import async_task

        with transaction.atomic():  # the ORM broker closes the caller's connection outside a transaction
            async_task(
                "syncapp.tasks.alerts.alerts_deliver_task", ids, task_name="alerts-deliver", group="orderops-alerts"
            )
    except Exception:
        logger.warning("alert deliveries %s could not be queued; the every-minute check sends them", ids, exc_info=True)


# --- sending -------------------------------------------------------------------------------------


def alert_payload(alert: Alert, event: str) -> dict:
    """The webhook's JSON: `text` (what Teams and Slack show) and the structured fields."""
    resolved = event == AlertDelivery.Event.RESOLVED
    title = alert.resolution_title if resolved else alert.title
    message = alert.resolution_message if resolved else alert.message
    details = alert.resolution_details if resolved else alert.details
    # Teams' markdown joins single line breaks; a blank line between lines keeps them apart.
    text = "\n\n".join([f"**{title}**", *(line for line in message.splitlines() if line.strip())])
    return {
        "text": text,
        "title": title,
        "severity": alert.severity,
        "status": event,
        "condition": alert.condition,
        "key": alert.key,
        "environment": alert.environment,
        "board": details.get("board", ""),
        "run_id": details.get("run_id"),
        "run_url": details.get("run_url", ""),
        "customers": details.get("customers", []),
        "top_causes": details.get("top_causes", []),
        "findings": details.get("findings", {}),  # a reconcile's differences per kind
        "alerts_url": details.get("alerts_url", ""),
    }


def _send_email(alert: Alert, event: str, address: str) -> None:
    payload = alert_payload(alert, event)
    body = (alert.resolution_message if event == AlertDelivery.Event.RESOLVED else alert.message).strip()
    # A resolved or test title says so itself; a firing one leads with its severity.
    prefix = f"{alert.severity.upper()}: " if event == AlertDelivery.Event.FIRING else ""
    with get_connection(timeout=settings.EMAIL_TIMEOUT) as connection:
        EmailMessage(
            subject=f"[orderops {alert.environment or 'alerts'}] {prefix}{payload['title']}"[:250],
            body=body + "\n",
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            connection=connection,
        ).send()


def _send_webhook(alert: Alert, event: str, url: str) -> None:
    response = requests.post(
        url,
        json=alert_payload(alert, event),
        timeout=settings.ORDEROPS_ALERT_WEBHOOK_TIMEOUT_SECONDS,
        headers={"User-Agent": "orderops-alerts/1"},
    )
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"the receiver answered HTTP {response.status_code}: {response.text[:300]}")


class DeliveryError(Exception):
    """The target refused the message."""


def _claim(delivery: AlertDelivery, now: datetime) -> bool:
    return bool(
        AlertDelivery.objects.filter(
            pk=delivery.pk, status=AlertDelivery.Status.PENDING, attempts=delivery.attempts
        ).update(attempts=F("attempts") + 1, next_attempt_at=now + CLAIM_LEASE)
    )


def _fail(delivery: AlertDelivery, attempts: int, error: str, now: datetime) -> None:
    delays = list(settings.ORDEROPS_ALERT_RETRY_MINUTES)
    final = delivery.event == AlertDelivery.Event.TEST or attempts > len(delays)
    next_at = None if final else now + timedelta(minutes=delays[attempts - 1])
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=AlertDelivery.Status.FAILED if final else AlertDelivery.Status.PENDING,
        next_attempt_at=next_at,
        last_error=error[:2000],
    )
    logger.warning(
        "alert %s (%s) to %s %s failed on attempt %s: %s; %s",
        delivery.alert_id,
        delivery.event,
        delivery.channel,
        delivery.target,
        attempts,
        error,
        "not retried" if final else f"next attempt at {next_at.isoformat()}",
    )


def _send(delivery: AlertDelivery, now: datetime) -> None:
    attempts = delivery.attempts + 1
    target = _target_for(delivery)
    if target is None:
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            status=AlertDelivery.Status.FAILED,
            next_attempt_at=None,
            last_error="this webhook is no longer in ORDEROPS_ALERT_WEBHOOKS, so nothing was sent",
        )
        return
    try:
        if delivery.channel == AlertDelivery.Channel.EMAIL:
            _send_email(delivery.alert, delivery.event, target.address)
        else:
            _send_webhook(delivery.alert, delivery.event, target.address)
    except Exception as error:  # any failure of a target is recorded and retried, never raised
        text = str(error) if isinstance(error, DeliveryError) else f"{type(error).__name__}: {error}"
        if delivery.channel == AlertDelivery.Channel.WEBHOOK:
            text = _scrub(text, target.address)
        _fail(delivery, attempts, text, now)
        return
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=AlertDelivery.Status.SENT, sent_at=timezone.now(), next_attempt_at=None, last_error=""
    )


def alert_deliveries_send(*, ids: list[int] | None = None, now: datetime | None = None) -> list[AlertDelivery]:
    """Send the deliveries that are due (of `ids` only, when given). Returns them as they ended."""
    now = now or timezone.now()
    sent = []
    for delivery in deliveries_due(now=now, ids=ids):
        if not _claim(delivery, now):
            continue  # another worker has it
        _send(delivery, now)
        sent.append(delivery.pk)
    return list(AlertDelivery.objects.filter(pk__in=sent).order_by("id"))
