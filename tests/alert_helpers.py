"""Real receivers for the alert tests: an SMTP server (aiosmtpd) and a webhook receiver (http.server),
both on free loopback ports, and the queue drained in this process the way a worker runs it."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from django.utils.module_loading import import_string
from django_q.models import OrmQ

WEBHOOK_SECRET = "B0123/XYZsecretTOKEN"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


@pytest.fixture
def smtp(settings) -> Iterator[Mailbox]:
    """An SMTP server on a free port, with Django's SMTP backend pointed at it."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.ORDEROPS_ALERT_EMAILS = ["ops@example.com"]
    try:
        yield mailbox
    finally:
        controller.stop()


class WebhookReceiver:
    """Records each JSON body; answers with the next queued status (200 when none is queued)."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status < 300:
                    receiver.bodies.append(body)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"1" if status < 300 else b"receiver is down")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0001/{WEBHOOK_SECRET}?sig=abc123"


@pytest.fixture
def webhook(settings) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.thread.start()
    settings.ORDEROPS_ALERT_WEBHOOKS = json.dumps([receiver.url])
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def drain_queue() -> list[str]:
    """Run every task waiting in the ORM broker, oldest first, as a worker would. Returns their
    function names."""
    ran = []
    while True:
        queued = OrmQ.objects.order_by("id").first()
        if queued is None:
            return ran
        task = queued.task
        queued.delete()
        func = task["func"]
        import_string(func)(*task.get("args", ()), **task.get("kwargs", {}))
        ran.append(func)


def settle(capture) -> list[str]:
    """Commit callbacks run and queued tasks drained until nothing is left (tasks queue tasks)."""
    ran = []
    while True:
        with capture(execute=True):
            done = drain_queue()
        ran += done
        if not done and not OrmQ.objects.exists():
            return ran
