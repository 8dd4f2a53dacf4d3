"""What every log line says about the work it belongs to: product, request id, route, who.

A request (or a command's unit of work, such as one sync pass) runs inside a
:class:`WorkContext`, held in a context variable: log records, outgoing calls
to the other product and the 500 page read it from there. Contexts nest:
in the combined run, Libeo's part of a « Payer » runs inside MEG's request,
with the same request id, and MEG's context is back once it returns.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

REQUEST_ID_HEADER = "X-Request-ID"
# What an id received from elsewhere may look like: a proxy's (nginx's 32 hex digits, a UUID, a
# cloud balancer's « Root=1-… »), never anything a log line could be forged with.
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+-]{0,127}")


def new_request_id() -> str:
    """« 3F9A-07C2-5D1E-4B90 »: random, short enough to read out to the support team.

    An id, not a secret: Python's own generator (reseeded in each forked
    worker) serves, without a system call on every request.
    """
    token = f"{random.getrandbits(64):016X}"
    return f"{token[:4]}-{token[4:8]}-{token[8:12]}-{token[12:]}"


def well_formed(value: str | None) -> str | None:
    """``value`` when it may serve as a request id, else None."""
    return value if value and _WELL_FORMED.fullmatch(value) else None


@dataclass(slots=True)
class WorkContext:
    product: str
    request_id: str
    route: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    user_id: int | None = None
    account_id: int | None = None


_current: ContextVar[WorkContext | None] = ContextVar("work_context", default=None)


def current_context() -> WorkContext | None:
    return _current.get()


def current_request_id() -> str | None:
    context = _current.get()
    return context.request_id if context is not None else None


def note(*, user_id: int | None = None, account_id: int | None = None) -> None:
    """Who the current request acts for, as soon as the product knows it (for its log lines)."""
    context = _current.get()
    if context is not None:
        if user_id is not None:
            context.user_id = user_id
        if account_id is not None:
            context.account_id = account_id


def enter(context: WorkContext):
    """Makes ``context`` current; returns the token :func:`leave` needs."""
    return _current.set(context)


def leave(token) -> None:
    try:
        _current.reset(token)
    except ValueError:  # closed from another context than it was opened in (a server's choice)
        _current.set(None)


@contextmanager
def work_scope(product: str, request_id: str | None = None, route: str | None = None) -> Iterator[WorkContext]:
    """A unit of work outside a request (a sync pass, a command) with its own id, like a request's."""
    context = WorkContext(product=product, request_id=request_id or new_request_id(), route=route)
    token = enter(context)
    try:
        yield context
    finally:
        leave(token)
