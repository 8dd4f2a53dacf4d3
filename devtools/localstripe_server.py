"""localstripe, the local Stripe test-mode server, bound to loopback.

localstripe's own CLI listens on every interface and keeps its state in a
fixed file of the temporary directory, shared by whoever runs it. Here it
listens on 127.0.0.1 only and keeps its state in a file we choose (the
instance folder in development) or nowhere (tests).

``python -m devtools.localstripe_server --port 8420`` runs the
server (the file needs nothing of the project, so the child process starts
fast); :class:`LocalStripe` runs it as a child process, for the ``flask libeo
localstripe`` command, the development server and the tests.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

WEBHOOK_NAME = "libeo"


def run(port: int, state_file: Path | None, verbose: bool = False) -> None:
    from aiohttp import web
    from localstripe import server
    from localstripe.resources import store

    def dump_to_disk() -> None:
        if state_file is not None:
            with state_file.open("wb") as f:
                pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)

    # The store saves itself after each change through this method.
    store.dump_to_disk = dump_to_disk
    if state_file is not None and state_file.exists():
        with state_file.open("rb") as f:
            store.update(pickle.load(f))

    logger = logging.getLogger("aiohttp.access")
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.addHandler(logging.StreamHandler())
    web.run_app(server.app, host="127.0.0.1", port=port, access_log=logger if verbose else None, print=None)


class LocalStripe:
    """A localstripe child process on 127.0.0.1, at the port of ``url``."""

    def __init__(self, url: str, state_file: Path | None = None, verbose: bool = False) -> None:
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        if parts.hostname not in ("127.0.0.1", "localhost") or not parts.port:
            raise ValueError(f"localstripe écoute sur 127.0.0.1 avec un port explicite, pas sur {url}")
        self.port = parts.port
        self.state_file = state_file
        self.verbose = verbose
        self.process: subprocess.Popen | None = None

    def responds(self) -> bool:
        try:
            return requests.get(f"{self.url}/js.stripe.com/v3/", timeout=1).ok
        except requests.RequestException:
            return False

    def start(self, timeout: float = 15.0) -> None:
        """Starts the child process, unless a localstripe already answers at this address."""
        if self.responds():
            return
        command = [sys.executable, __file__, "--port", str(self.port)]
        if self.state_file is not None:
            command += ["--state-file", str(self.state_file)]
        if self.verbose:
            command.append("--verbose")
        self.process = subprocess.Popen(command)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"localstripe n'a pas démarré sur le port {self.port} (déjà pris ?)")
            if self.responds():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"localstripe ne répond pas sur {self.url}")

    def register_webhook(self, url: str, secret: str) -> None:
        """localstripe signs and posts every event to ``url`` (kept in its memory only)."""
        response = requests.post(f"{self.url}/_config/webhooks/{WEBHOOK_NAME}", json={"url": url, "secret": secret},
                                 timeout=5)
        response.raise_for_status()

    def reset(self) -> None:
        """Forgets every customer, plan, subscription…; webhooks stay registered."""
        requests.delete(f"{self.url}/_config/data", timeout=5).raise_for_status()

    def wait(self) -> None:
        if self.process is not None:
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="localstripe sur 127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--state-file", type=Path)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    run(args.port, args.state_file, args.verbose)


if __name__ == "__main__":
    main()
