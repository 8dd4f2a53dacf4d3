"""Log lines: one JSON object a line (``LOG_FORMAT=json``) or readable text, never a secret.

Configured once per process on the root logger, so that every logger (the
products', werkzeug's, Alembic's, the libraries') writes through the same
handler: each line carries the product, the request id and, once known, the
user and account of the request it belongs to. Secrets, keys, tokens and full
IBANs are masked in the message and in the traceback before the line is
written, whatever logged them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime

from core.observability.context import current_context
from core.setup import RedactSecrets

_HANDLER_FLAG = "_meg_libeo_handler"
# Printed IBANs: country, check digits, then groups of four (spaces optional), as people and
# programs write them. The SEPA countries' shortest IBAN has 15 characters.
_IBAN = re.compile(r"\b([A-Z]{2}\d{2})((?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)\b")
# Fields a line may carry besides its message, in the order JSON lines show them.
CONTEXT_FIELDS = ("product", "request_id", "user_id", "account_id", "route", "method", "path", "status",
                  "duration_ms")


def mask_ibans(text: str) -> str:
    def mask(match: re.Match) -> str:
        rest = match.group(2).replace(" ", "")
        if len(rest) < 11:
            return match.group(0)
        return f"{match.group(1)}…{rest[-4:]}"

    return _IBAN.sub(mask, text)


def redact(text: str) -> str:
    """The text with secrets, keys, tokens and full IBANs masked."""
    return mask_ibans(RedactSecrets.redact(text))


class ContextFilter(logging.Filter):
    """Gives each record the fields of the work it belongs to (unless the call passed its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_context()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, getattr(context, name, None) if context is not None else None)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None or name in ("product", "request_id"):
                entry[name] = value
        entry["message"] = redact(record.getMessage())
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(where)s%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        parts = [getattr(record, "product", None), getattr(record, "request_id", None)]
        user, account = getattr(record, "user_id", None), getattr(record, "account_id", None)
        if user is not None:
            parts.append(f"user={user}")
        if account is not None:
            parts.append(f"account={account}")
        shown = " ".join(str(part) for part in parts if part is not None)
        record.where = f"[{shown}] " if shown else ""
        return redact(super().format(record))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when the line is written (a test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(log_format: str | None = None, level: str | None = None) -> logging.Handler:
    """One handler on the root logger (added once per process; its format follows the latest call)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, _HANDLER_FLAG, False)), None)
    if handler is None:
        handler = _StderrHandler()
        setattr(handler, _HANDLER_FLAG, True)
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    wanted = (log_format or os.environ.get("LOG_FORMAT") or "text").strip().lower()
    handler.setFormatter(JsonFormatter() if wanted == "json" else TextFormatter())
    root.setLevel((level or os.environ.get("LOG_LEVEL") or "INFO").strip().upper())
    # SQLAlchemy prints statements with their parameters (IBANs, key digests) from INFO on:
    # only its warnings, whatever the level asked for the rest.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    return handler
