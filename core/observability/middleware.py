"""The WSGI layer every request of a product goes through: its id, its count and duration, its log line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import perf_counter

from core.observability.context import (
    REQUEST_ID_HEADER,
    WorkContext,
    enter,
    leave,
    new_request_id,
    well_formed,
)
from core.observability.logs import write_request_line
from core.observability.metrics import RequestMetrics

CONTEXT_KEY = "observability.context"


class ObservedApp:
    """Wraps a product's WSGI app.

    The request id is the caller's ``X-Request-ID`` when the caller may be
    believed (``trusts(path)``: a trusted proxy in front, or the other product
    calling its API), else a new one; the answer carries it back. The count,
    the duration (until the body is sent) and the log line are taken once the
    body is sent, or when the server closes it early.
    """

    def __init__(self, wsgi_app, *, product: str, trusts: Callable[[str], bool]) -> None:
        self.wsgi_app = wsgi_app
        self.product = product
        self.trusts = trusts
        self.metrics = RequestMetrics(product)
        self.log = logging.getLogger(f"{product}.requests")

    def __call__(self, environ, start_response):
        started = perf_counter()
        path = environ.get("PATH_INFO") or "/"
        received = environ.get("HTTP_X_REQUEST_ID")
        request_id = (well_formed(received) if received and self.trusts(path) else None) or new_request_id()
        context = WorkContext(self.product, request_id, method=environ.get("REQUEST_METHOD", "GET"),
                              path=environ.get("SCRIPT_NAME", "") + path)
        environ[CONTEXT_KEY] = context
        token = enter(context)
        header = (REQUEST_ID_HEADER, request_id)

        def observed_start_response(status, headers, exc_info=None):
            context.status = int(status[:3])
            headers.append(header)
            return start_response(status, headers, exc_info)

        try:
            body = self.wsgi_app(environ, observed_start_response)
        except BaseException:
            context.status = 500
            self._finish(context, started, token)
            raise
        return self._sent(body, context, started, token)

    def _sent(self, body, context: WorkContext, started: float, token):
        """The body, then the count and the log line: once it is all sent, or the server closes it."""
        try:
            yield from body
        finally:
            try:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            finally:
                self._finish(context, started, token)

    def _log_line(self, context: WorkContext, status: int, duration_ms: float) -> None:
        """The request's line, with its own request's fields whatever the context is when the server
        closes the answer."""
        fields = {"product": context.product, "request_id": context.request_id, "user_id": context.user_id,
                  "account_id": context.account_id, "route": context.route, "method": context.method,
                  "path": context.path, "status": status, "duration_ms": duration_ms}
        message = f"{context.method} {context.path} {status} {duration_ms} ms"
        if not write_request_line(self.log, fields, message):
            self.log.info(message, extra=fields)

    def _finish(self, context: WorkContext, started: float, token) -> None:
        try:
            seconds = perf_counter() - started
            status = context.status or 500
            self.metrics.observe(context.route, context.method or "", status, seconds)
            if self.log.isEnabledFor(logging.INFO):
                self._log_line(context, status, round(seconds * 1000, 1))
        finally:
            leave(token)
