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
import time
from datetime import datetime

from core.observability.context import current_context
from core.setup import RedactSecrets

_HANDLER_FLAG = "_meg_libeo_handler"
QUIET_LIBRARIES = ("sqlalchemy", "factur-x", "fontTools", "PIL", "pypdf", "xmlschema", "reportlab")
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


# Every word the masks start from (looked for in lower case), and an IBAN's first four characters:
# a line without any (most request lines) is left as is at once.
_MAYBE_SECRET = re.compile(r"bearer|basic|code|token|secret|verifier|api_key|password|state|lbo_|desabonnement")
_MAYBE_IBAN = re.compile(r"[A-Z]{2}\d{2}")


def redact(text: str) -> str:
    """The text with secrets, keys, tokens and full IBANs masked."""
    if not (_MAYBE_SECRET.search(text.lower()) or _MAYBE_IBAN.search(text)):
        return text
    return mask_ibans(RedactSecrets.redact(text))


class ContextFilter(logging.Filter):
    """Gives each record the fields of the work it belongs to (unless the call passed its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_context()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, getattr(context, name, None) if context is not None else None)
        return True


class LineFormatter(logging.Formatter):
    """A record as one line; :meth:`line` also writes the request lines, which skip the record."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {name: getattr(record, name, None) for name in CONTEXT_FIELDS}
        exception = None
        if record.exc_info:
            exception = self.formatException(record.exc_info)
        elif record.exc_text:
            exception = record.exc_text
        return self.line(record.created, record.levelname, record.name, fields, record.getMessage(), exception)

    def line(self, created: float, level: str, logger: str, fields: dict, message: str,
             exception: str | None = None) -> str:
        raise NotImplementedError


_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
_this_second: tuple[int, str] = (0, "")


def _utc_time(created: float) -> str:
    """« 2026-12-04T15:26:35.821+00:00 »; the part up to the second is made once a second."""
    global _this_second
    second, prefix = _this_second
    if second != int(created):
        second = int(created)
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _this_second = (second, prefix)
    return f"{prefix}.{int(created * 1000) % 1000:03d}+00:00"


class JsonFormatter(LineFormatter):
    def line(self, created, level, logger, fields, message, exception=None) -> str:
        entry = {"time": _utc_time(created), "level": level, "logger": logger}
        for name, value in fields.items():
            if value is not None or name in ("product", "request_id"):
                entry[name] = value
        if entry.get("path"):  # a path may carry a token (the unsubscribe link), as the message does
            entry["path"] = redact(entry["path"])
        entry["message"] = redact(message)
        if exception:
            entry["exception"] = redact(exception)
        return _encode(entry)


class TextFormatter(LineFormatter):
    def line(self, created, level, logger, fields, message, exception=None) -> str:
        parts = [fields.get("product"), fields.get("request_id")]
        if fields.get("user_id") is not None:
            parts.append(f"user={fields['user_id']}")
        if fields.get("account_id") is not None:
            parts.append(f"account={fields['account_id']}")
        shown = " ".join(str(part) for part in parts if part is not None)
        moment = datetime.fromtimestamp(created).isoformat(sep=" ", timespec="milliseconds")
        text = f"{moment} {level} {f'[{shown}] ' if shown else ''}{logger}: {message}"
        if exception:
            text = f"{text}\n{exception}"
        return redact(text)


def write_request_line(logger: logging.Logger, fields: dict, message: str) -> bool:
    """Writes a request's INFO line straight through this module's handler when nothing else listens
    (no other handler or filter on the way): a request's line then costs a third of a log record's.
    False when it must go through ``logging`` (a test's capture, another handler)."""
    root = logging.root
    if len(root.handlers) != 1 or root.filters:
        return False
    handler = root.handlers[0]
    formatter, stream = handler.formatter, getattr(handler, "stream", None)
    if (not getattr(handler, _HANDLER_FLAG, False) or handler.level > logging.INFO
            or not isinstance(formatter, LineFormatter) or stream is None):
        return False
    node: logging.Logger | None = logger
    while node is not None and node is not root:
        if node.handlers or node.filters or not node.propagate:
            return False
        node = node.parent
    line = formatter.line(time.time(), "INFO", logger.name, fields, message)
    handler.acquire()
    try:
        stream.write(line + "\n")
        if not getattr(stream, "line_buffering", False):  # standard error flushes at each line itself
            stream.flush()
    except Exception:  # a log line never fails a request
        pass
    finally:
        handler.release()
    return True


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
    # SQLAlchemy prints statements with their parameters (IBANs, key digests) from INFO on, and the
    # document libraries a line per file they read: only their warnings, whatever the level asked.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
