"""Running untrusted work (reading a file a person uploaded) in a process of its own, within limits.

``run_limited(function, *args, memory_bytes=…, seconds=…)`` calls
``function(*args)`` in a child process whose address space may grow by at
most ``memory_bytes`` (``RLIMIT_AS``) and which is killed after ``seconds``
of wall-clock time (and by ``RLIMIT_CPU`` should the parent be gone). The
request thread waits on a pipe, holding no database lock and no memory of
the work: a hostile file can only exhaust its own child, never the web
worker that serves every other company.

Children are forked from a ``forkserver`` that imported the function's
module once, so a call costs a fork (milliseconds), not an interpreter
start; and the server is a fresh, single-threaded process, so forking it is
safe whatever threads the web worker runs.

What the function returns, or the exception it raises, comes back to the
caller (pickled), with the child's peak resident memory. The function's
own ``MemoryError`` and the child's death or overrun become ``Overrun``.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

_CONTEXT = multiprocessing.get_context("forkserver")
_PRELOADED: set[str] = set()


class Overrun(Exception):
    """The work went beyond its memory or its time; ``limit`` says which (« memory », « time »)."""

    def __init__(self, limit: str, peak_bytes: int | None = None, seconds: float = 0.0) -> None:
        super().__init__(limit)
        self.limit = limit
        self.peak_bytes = peak_bytes
        self.seconds = seconds


@dataclass(frozen=True)
class Outcome:
    """What the work returned, with what it cost its child process."""

    value: Any
    peak_bytes: int
    seconds: float


def run_limited(function: Callable, *args, memory_bytes: int, seconds: float) -> Outcome:
    """``function(*args)`` in a limited child process; re-raises what it raised; ``Overrun`` past a limit."""
    _preload(function.__module__)
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_work, args=(sender, function, args, memory_bytes, seconds), daemon=True)
    child.start()  # the first one waits for the fork server to start: not counted in ``seconds``
    started = time.monotonic()
    sender.close()
    try:
        if not receiver.poll(seconds):
            raise Overrun("time", seconds=time.monotonic() - started)
        kind, value, peak = receiver.recv()
    except (EOFError, OSError):  # the child died without a word: killed by the kernel, out of memory
        raise Overrun("memory", seconds=time.monotonic() - started) from None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    elapsed = time.monotonic() - started
    logger.info("limited work %s: %s in %.2f s, peak memory %d MB", function.__qualname__, kind, elapsed,
                peak // (1024 * 1024), extra={"peak_memory_bytes": peak, "seconds": elapsed})
    if kind == "memory":
        raise Overrun("memory", peak, elapsed)
    if kind == "raised":
        raise value
    return Outcome(value, peak, elapsed)


def _preload(module: str) -> None:
    """The modules children need, imported once by the fork server (before it starts; later ones on first use)."""
    if module not in _PRELOADED:
        _PRELOADED.add(module)
        _CONTEXT.set_forkserver_preload(sorted(_PRELOADED))


def _work(sender, function: Callable, args: tuple, memory_bytes: int, seconds: float) -> None:
    _limit_self(memory_bytes, seconds)
    try:
        outcome = ("returned", function(*args))
    except MemoryError:
        outcome = ("memory", None)
    except Exception as exc:  # noqa: BLE001 — handed to the caller, who decides
        outcome = ("raised", exc)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    try:
        sender.send((*outcome, peak))
    except Exception as exc:  # noqa: BLE001 — an exception that does not pickle
        sender.send(("raised", RuntimeError(f"{type(exc).__name__}: {exc}"), peak))
    sender.close()


def _limit_self(memory_bytes: int, seconds: float) -> None:
    # The budget is on top of what the fork server's modules already take.
    current = _address_space_bytes()
    resource.setrlimit(resource.RLIMIT_AS, (current + memory_bytes, current + memory_bytes))
    cpu = math.ceil(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def _address_space_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
