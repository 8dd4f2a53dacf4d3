"""What a real SMTP server (aiosmtpd, started by the ``mail`` fixture) received, read as a person reads it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from html import unescape

from devtools.smtp_server import LocalSmtp


def plain(text: str) -> str:
    """No-break spaces (French typography, amounts) read as spaces."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


@dataclass
class Received:
    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["X-Delivered-To"])

    @property
    def sender(self) -> str:
        return str(self.message["From"])

    @property
    def subject(self) -> str:
        return plain(str(self.message["Subject"])).strip()

    @property
    def text(self) -> str:
        return plain(self.message.get_body(("plain",)).get_content())

    @property
    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()

    @property
    def html_text(self) -> str:
        return plain(unescape(self.html))

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return str(value).strip() if value is not None else None

    @property
    def unsubscribe_url(self) -> str | None:
        value = self.header("List-Unsubscribe")
        return value.strip("<>") if value else None

    def raw(self) -> str:
        return self.message.as_string()


class Mailbox:
    """Both products send to ``smtp``; ``send`` runs one product's notification worker pass."""

    def __init__(self, apps, smtp: LocalSmtp) -> None:
        self.apps, self.smtp = apps, smtp
        for app in (apps.meg, apps.libeo):
            app.config["SMTP_URL"] = smtp.url

    def send(self, side: str, now: datetime | None = None):
        notifier = _notifier(side)
        with getattr(self.apps, side).app_context():
            return notifier.run_pass(now)

    def send_all(self, now: datetime | None = None) -> None:
        self.send("meg", now)
        self.send("libeo", now)

    @property
    def received(self) -> list[Received]:
        return [Received(message) for message in self.smtp.messages]

    def to(self, address: str) -> list[Received]:
        return [message for message in self.received if message.to == address]

    def one(self, address: str) -> Received:
        found = self.to(address)
        assert len(found) == 1, [(m.to, m.subject) for m in self.received]
        return found[0]

    def clear(self) -> None:
        self.smtp.clear()


def _notifier(side: str):
    if side == "meg":
        from models.meg.notifications.kinds import notifier
    else:
        from models.libeo.notifications.kinds import notifier
    return notifier


def outbox_rows(app, side: str) -> list[dict]:
    """The product's notification rows, oldest first (kind, recipient, status, delivery, attempts)."""
    from sqlalchemy import select

    if side == "meg":
        from models.meg import Notification, db
    else:
        from models.libeo import Notification, db
    with app.app_context():
        return [
            {"kind": n.kind, "recipient": n.recipient, "status": n.status, "delivery": n.delivery,
             "attempts": n.attempts, "event_key": n.event_key, "last_error": n.last_error}
            for n in db.session.scalars(select(Notification).order_by(Notification.id))
        ]
