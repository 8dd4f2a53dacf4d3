"""What the development server's local SMTP server received: read from its Maildir, for « E-mails envoyés ».

Only the development server sets ``LOCAL_MAILBOX`` (never the environment);
without it the page does not exist.
"""

from __future__ import annotations

import mailbox
import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path

from core.mail import address_of

_KEY = re.compile(r"[A-Za-z0-9._,:-]{1,200}")
MAX_LISTED = 200


@dataclass(frozen=True)
class Received:
    key: str
    sent_at: datetime | None
    sender: str
    to: str
    subject: str
    text: str
    html: str
    unsubscribe: str | None
    unsubscribe_post: str | None


def received_messages(folder: str | Path, sender: str) -> list[Received]:
    """Messages from ``sender``'s address, newest first (the latest ``MAX_LISTED``)."""
    box = mailbox.Maildir(folder, create=True)
    keys = box.keys()  # iterating the Maildir itself would read every message's object
    found = [message for key in keys if (message := _read(box, key)) and _from(message, sender)]
    found.sort(key=lambda m: (m.sent_at.timestamp() if m.sent_at else 0.0, m.key), reverse=True)
    return found[:MAX_LISTED]


def received_message(folder: str | Path, key: str, sender: str) -> Received | None:
    if not _KEY.fullmatch(key or ""):
        return None
    message = _read(mailbox.Maildir(folder, create=True), key)
    return message if message is not None and _from(message, sender) else None


def _from(message: Received, sender: str) -> bool:
    return address_of(message.sender) == address_of(sender)


def _read(box: mailbox.Maildir, key: str) -> Received | None:
    try:
        raw = box.get_bytes(key)
    except KeyError:
        return None
    message = message_from_bytes(raw, policy=default_policy)
    try:
        sent_at = parsedate_to_datetime(message["Date"]) if message["Date"] else None
    except (TypeError, ValueError):
        sent_at = None
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    return Received(
        key=key,
        sent_at=sent_at,
        sender=str(message["From"] or ""),
        to=", ".join(message.get_all("X-Delivered-To") or [str(message["To"] or "")]),
        subject=str(message["Subject"] or ""),
        text=text.get_content() if text is not None else "",
        html=html.get_content() if html is not None else "",
        unsubscribe=message["List-Unsubscribe"],
        unsubscribe_post=message["List-Unsubscribe-Post"],
    )
