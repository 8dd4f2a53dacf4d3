"""Slow clients on the loopback, bounded in number and in time.

- *trickling* (« slowloris »): each opens a connection, sends the start of a
  request, then one more header line every second, never the blank line
  that ends the headers;
- *idle*: each opens a connection and sends nothing.

They run in one thread of the test process and only ever connect to
127.0.0.1. Each records when the server closed it, if it did.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from dataclasses import dataclass

MAX_CLIENTS = 400
MAX_SECONDS = 30.0


@dataclass
class Slow:
    sock: socket.socket
    trickling: bool
    closed_after: float | None = None


class SlowClients(threading.Thread):
    def __init__(self, port: int, *, trickling: int, idle: int = 0, seconds: float, tls: bool = False,
                 interval: float = 1.0) -> None:
        assert trickling + idle <= MAX_CLIENTS and seconds <= MAX_SECONDS
        super().__init__(daemon=True)
        self.port, self.tls, self.interval = port, tls, interval
        self.wanted = (trickling, idle)
        self.seconds = seconds
        self.clients: list[Slow] = []
        self.opened = threading.Event()
        self.stopping = threading.Event()
        self.started_at = self.open_seconds = 0.0
        # Whoever they are, they do not check the certificate (one context: loading it is the slow part).
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._context.check_hostname, self._context.verify_mode = False, ssl.CERT_NONE

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        if self.tls:
            sock = self._context.wrap_socket(sock, server_hostname="127.0.0.1")
        return sock

    def run(self) -> None:
        self.started_at = time.monotonic()
        trickling, idle = self.wanted
        try:
            for n in range(trickling + idle):
                sock = self._connect()
                if n < trickling:
                    sock.sendall(b"GET /connexion HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n")
                sock.setblocking(False)
                self.clients.append(Slow(sock, n < trickling))
        finally:
            self.opened.set()
        self.open_seconds = time.monotonic() - self.started_at
        deadline = time.monotonic() + self.seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            for client in self.clients:
                if client.closed_after is None:
                    self._poke(client)
            self.stopping.wait(self.interval)
        self.close()

    def _poke(self, client: Slow) -> None:
        """One more header line (trickling), and whether the server has closed the connection meanwhile."""
        try:
            if client.trickling:
                client.sock.send(b"X-Slow: 1\r\n")
            data = client.sock.recv(4096)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError:
            data = b""
        if not data:
            client.closed_after = time.monotonic() - self.started_at

    def closed(self) -> int:
        """How many of them the server has closed (they sent nothing more since)."""
        return sum(1 for c in self.clients if c.closed_after is not None)

    def close(self) -> None:
        self.stopping.set()
        for client in self.clients:
            with contextlib.suppress(OSError):
                client.sock.close()

    def __enter__(self) -> SlowClients:
        self.start()
        assert self.opened.wait(30), "the slow clients could not connect"
        assert len(self.clients) == sum(self.wanted), f"{len(self.clients)} slow clients connected"
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.join(10)
