"""The two products deployed apart: each its own gunicorn, port, instance folder and database.

Nothing is shared but what production shares: HTTP between MEG and Libeo
(``LIBEO_URL``/``MEG_URL``), each side set up with its own commands
(``flask --app "app:create_meg_app()" meg db upgrade`` …). People reach them
through :class:`WebClient`, a ``requests`` session that fills CSRF tokens the
way a browser's forms do. A side can be stopped, killed and started again.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

import requests
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
FACTORIES = {"meg": "app:create_meg_app()", "libeo": "app:create_libeo_app()"}
CSRF_FIELD = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
ENCRYPTION_KEY = "0SlBJdXK1T4XMOgN7Y0j1yTbVvPuIMn0fJ3BqwpK8f4="


def _database_urls(tmp_path: Path, worker: str) -> dict[str, str]:
    """SQLite files of their own, or with TEST_DATABASE_URL new PostgreSQL databases."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        return {side: f"sqlite:///{tmp_path / side / f'{side}.sqlite3'}" for side in FACTORIES}
    import psycopg

    url = make_url(base).set(drivername="postgresql+psycopg")
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    urls = {}
    with psycopg.connect(admin, autocommit=True) as conn:
        for side in FACTORIES:
            name = f"{url.database}_{side}_{worker}_apart"
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
            urls[side] = url.set(database=name).render_as_string(hide_password=False)
    return urls


@dataclass
class Side:
    name: str
    port: int
    env: dict[str, str]
    folder: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Deployment:
    tmp_path: Path
    worker: str = "gw0"
    # MEG reaches Libeo through a FaultProxy (``self.proxy``) instead of directly.
    with_proxy: bool = False
    sides: dict[str, Side] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from .fault_proxy import FaultProxy

        ports = {side: free_port() for side in FACTORIES}
        self.databases = _database_urls(self.tmp_path, self.worker)
        meg_url, libeo_url = (f"http://127.0.0.1:{ports[side]}" for side in ("meg", "libeo"))
        self.proxy = FaultProxy(ports["libeo"]) if self.with_proxy else None
        route = f"http://127.0.0.1:{self.proxy.port}" if self.proxy else libeo_url
        common = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/root"),
            "RATELIMIT_ENABLED": "0",
            "HTTP_TIMEOUT": "3",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        specific = {
            "meg": {"PUBLIC_URL": meg_url, "LIBEO_URL": route, "MEG_DATABASE_URL": self.databases["meg"],
                    "MEG_ENCRYPTION_KEY": ENCRYPTION_KEY, "MEG_SECRET_KEY": "apart-meg-secret"},
            "libeo": {"PUBLIC_URL": libeo_url, "MEG_URL": meg_url, "LIBEO_DATABASE_URL": self.databases["libeo"],
                      "LIBEO_SECRET_KEY": "apart-libeo-secret"},
        }
        for side, port in ports.items():
            folder = self.tmp_path / side
            folder.mkdir(parents=True, exist_ok=True)
            env = {**common, **specific[side], "INSTANCE_PATH": str(folder / "instance")}
            self.sides[side] = Side(side, port, env, folder)

    # --- commands and processes ---------------------------------------------------------------

    def flask(self, side: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """``flask --app "app:create_<side>_app()" <args>`` with that side's settings only."""
        command = [sys.executable, "-m", "flask", "--app", FACTORIES[side], *args]
        result = subprocess.run(command, cwd=ROOT, env=self.sides[side].env, capture_output=True, text=True,
                                timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def set_up(self) -> None:
        self.flask("meg", "meg", "db", "upgrade")
        self.flask("meg", "meg", "seed-demo")
        self.flask("libeo", "libeo", "db", "upgrade")

    def start(self, side: str, workers: int = 1, threads: int = 4) -> None:
        target = self.sides[side]
        log = open(target.folder / "gunicorn.log", "ab")  # noqa: SIM115 - the server writes to it until it stops
        target.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads), "--graceful-timeout", "2",
             "-b", f"127.0.0.1:{target.port}", FACTORIES[side]],
            cwd=ROOT, env=target.env, stdout=log, stderr=subprocess.STDOUT,
        )
        # Ours answers only once its master says it listens (another server on that port would answer too).
        listening = f"Listening at: {target.url} ({target.process.pid})"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if target.process.poll() is not None:
                raise AssertionError(f"{side} did not start:\n{self.log(side)}")
            if listening not in self.log(side):
                time.sleep(0.1)
                continue
            try:
                requests.get(target.url + "/connexion", timeout=5)
                return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        raise AssertionError(f"{side} did not answer within 30 s:\n{self.log(side)}")

    def stop(self, side: str, sig: int = signal.SIGTERM) -> None:
        process = self.sides[side].process
        if process is not None and process.poll() is None:
            process.send_signal(sig)
            process.wait(timeout=15)
        self.sides[side].process = None

    def log(self, side: str) -> str:
        path = self.sides[side].folder / "gunicorn.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        for side in self.sides:
            self.stop(side)
        if self.proxy is not None:
            self.proxy.close()

    def url(self, side: str) -> str:
        return self.sides[side].url

    def engine(self, side: str):
        return create_engine(self.databases[side])

    def client(self, side: str) -> WebClient:
        return WebClient(self.sides[side].url)


class WebClient(requests.Session):
    """A person's browser on one product: cookies kept, forms posted with their CSRF token."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.trust_env = False
        self.base_url = base_url
        # A connection per request: a kept-alive one that gunicorn closes while a test pauses (a side
        # stopped and started again) would otherwise be reset under the next request.
        self.headers["Connection"] = "close"

    def request(self, method, url, *args, **kwargs):
        if url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", 20)
        return super().request(method, url, *args, **kwargs)

    def submit(self, form_page: str, action: str | None = None, data: dict | None = None,
               **kwargs) -> requests.Response:
        """Opens ``form_page``, then posts ``data`` with the page's CSRF token to ``action`` (or the page)."""
        page = self.get(form_page)
        match = CSRF_FIELD.search(page.text)
        assert match, f"no CSRF token on {form_page} ({page.status_code})"
        return self.post(action or form_page, data={"csrf_token": match.group(1), **(data or {})}, **kwargs)

    @staticmethod
    def text(response: requests.Response) -> str:
        """The page's text as a test reads it: entities decoded, no-break spaces as spaces."""
        return unescape(response.text).replace("\u202f", " ").replace("\u00a0", " ")
