"""A small HTTP proxy between MEG and Libeo that can lose answers, refuse connections or be slow.

MEG's ``LIBEO_URL`` points at it; it forwards each request to Libeo on a
connection of its own and relays the answer, unless told otherwise:

- ``drop_answers(pattern, times=None)``: requests whose request line matches
  are forwarded and answered by Libeo, but the answer is lost on the way back
  (the connection is closed without a byte): Libeo acted, MEG heard nothing;
  ``times``: only the first that many answers are lost, then they pass again;
- ``down()``: connections are accepted and closed at once (nothing forwarded);
- ``slow(seconds)``: answers are held that long before being relayed;
- ``slow_answers(pattern, seconds)``: only the answers to matching requests;
- ``heal()``: back to relaying everything.

It only listens on 127.0.0.1 and serves at most a bounded number of
connections at a time.
"""

from __future__ import annotations

import re
import socket
import threading
import time


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.dropping: re.Pattern | None = None
        self.drops_left: int | None = None
        self._lock = threading.Lock()
        self.is_down = False
        self.delay = 0.0
        self.slowing: tuple[re.Pattern, float] | None = None
        self.dropped: list[str] = []
        self.forwarded: list[str] = []
        self._running = True
        self._slots = threading.BoundedSemaphore(32)
        self._thread = threading.Thread(target=self._serve, name="fault-proxy", daemon=True)
        self._thread.start()

    # --- what goes wrong -------------------------------------------------------------------------

    def drop_answers(self, pattern: str, times: int | None = None) -> None:
        self.dropping, self.drops_left = re.compile(pattern), times

    def down(self) -> None:
        self.is_down = True

    def slow(self, seconds: float) -> None:
        self.delay = seconds

    def slow_answers(self, pattern: str, seconds: float) -> None:
        self.slowing = (re.compile(pattern), seconds)

    def heal(self) -> None:
        self.dropping, self.drops_left, self.is_down, self.delay, self.slowing = None, None, False, 0.0, None

    def close(self) -> None:
        self._running = False
        self.server.close()

    # --- relaying ---------------------------------------------------------------------------------

    def _serve(self) -> None:
        while self._running:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self._slots.acquire()
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        try:
            client.settimeout(30)
            if self.is_down:
                return
            request = _read_message(client)
            if request is None:
                return
            line = request.split(b"\r\n", 1)[0].decode("latin-1")
            answer = self._forward(_close_after(request))
            if self._drops(line):
                self.dropped.append(line)
                return  # Libeo acted; the answer is lost
            self.forwarded.append(line)
            if self.delay:
                time.sleep(self.delay)
            if self.slowing is not None and self.slowing[0].search(line):
                time.sleep(self.slowing[1])
            client.sendall(answer)
        except OSError:
            pass
        finally:
            client.close()
            self._slots.release()

    def _drops(self, line: str) -> bool:
        with self._lock:
            if self.dropping is None or not self.dropping.search(line) or self.drops_left == 0:
                return False
            if self.drops_left is not None:
                self.drops_left -= 1
            return True

    def _forward(self, request: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30) as upstream:
            upstream.sendall(request)
            chunks = []
            while chunk := upstream.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


def _read_message(sock: socket.socket) -> bytes | None:
    """One HTTP/1.1 request: its head, then Content-Length bytes of body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(match.group(1)) if match else 0
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _close_after(request: bytes) -> bytes:
    """One request per upstream connection: Libeo closes it after answering."""
    head, _, body = request.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n" + body
