"""MEG keeps its connection to Libeo from one call to the next (Libeo under its own gunicorn, a real socket)."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from .conftest import libeo_account


class CountingRelay:
    """Relays TCP connections to ``port`` byte for byte (keep-alive included), counting them."""

    def __init__(self, port: int) -> None:
        self.upstream, self.accepted = port, 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def relayed_libeo(apps, deployment):
    """Libeo deployed under its own gunicorn behind a CountingRelay, and an API key of its demo account."""
    from blueprints.libeo.factory import create_libeo_app

    deployed_libeo = create_libeo_app({"SQLALCHEMY_DATABASE_URI": deployment.databases["libeo"], "TESTING": True})
    _, key = libeo_account(deployed_libeo)
    deployment.start("libeo")
    relay = CountingRelay(deployment.sides["libeo"].port)
    yield key, relay
    relay.close()


def test_megs_calls_to_libeo_reuse_one_connection(apps, relayed_libeo):
    """Each call (a « Payer », a sync pass) used to open a new TCP connection, and a TLS handshake on it."""
    from models.meg.libeo_link.client import LibeoClient

    key, relay = relayed_libeo
    with apps.meg.app_context():
        url = f"http://127.0.0.1:{relay.port}"
        names = [LibeoClient(key, base_url=url).me().name for _ in range(3)]
    assert names == ["Boulangerie Martin SARL"] * 3
    assert relay.accepted == 1


def test_a_kept_connection_to_a_restarted_libeo_is_replaced(apps, deployment, relayed_libeo):
    """Libeo restarted between two calls: the kept connection is dead; the next call opens a new one and is answered."""
    from models.meg.libeo_link.client import LibeoClient

    key, relay = relayed_libeo
    with apps.meg.app_context():
        client = LibeoClient(key, base_url=f"http://127.0.0.1:{relay.port}")
        before = client.me().name
        deployment.stop("libeo")
        deployment.start("libeo")
        after = LibeoClient(key, base_url=f"http://127.0.0.1:{relay.port}").me().name
    assert before == after == "Boulangerie Martin SARL"
    assert relay.accepted == 2
