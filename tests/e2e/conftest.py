"""Browser tests: Debian's Chromium driven by Playwright against a live server.

Each test gets its own server on 127.0.0.1 (ephemeral port) serving the
combined app with fresh databases and MEG's demo data, so tests never depend
on each other. CSRF protection is on, as for a real visitor.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from tests.conftest import REQUIRE_SERVICES, Apps, _empty_databases, build_apps

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # A French person's browser (with the context's locale: Accept-Language, navigator.language).
    # Headless Chromium here still draws date fields as mm/dd/yyyy whatever the locale: tests fill
    # them with ISO dates, and screenshots show that American order (a real French browser does not).
    "--lang=fr-FR",
]

# A page that must show something is given 15 s, not Playwright's 5: the suite runs in two processes (each its
# own live server and Chromium) on two CPUs, where a page that asks the other product a question can take
# longer than 5 s to answer. A page that never shows it still fails.
expect.set_options(timeout=15_000)


def pytest_collection_modifyitems(items):
    # Every test of this folder is a browser test, marked or not by its author:
    # `-m "not e2e"` (the PostgreSQL pass) must never pick one up.
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium (Playwright cannot download browsers here)"
        if REQUIRE_SERVICES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@dataclass
class LiveServer:
    url: str
    apps: Apps


@pytest.fixture
def live_libeo_config() -> dict:
    """Extra Libeo settings of the live server (a test module may override it)."""
    return {}


@pytest.fixture
def live_server(tmp_path, worker_id_safe, live_libeo_config):
    # Port 0 picks a free port; the apps are built once it is known, because
    # the public URL (OAuth redirects, links between the sides) must be the real one.
    server = make_server("127.0.0.1", 0, app=None, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    apps = build_apps(
        tmp_path,
        worker_id_safe,
        public_url=url,
        meg={"WTF_CSRF_ENABLED": True},
        libeo={"WTF_CSRF_ENABLED": True, **live_libeo_config},
    )
    _empty_databases(apps)  # a previous aborted run may have left rows on PostgreSQL
    from models.meg.demo import create_demo_data

    with apps.meg.app_context():
        create_demo_data()
    server.app = apps.root
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(url, apps)
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    _empty_databases(apps)


@pytest.fixture
def browser_context_args(browser_context_args, live_server):
    return {
        **browser_context_args,
        "base_url": live_server.url,
        "locale": "fr-FR",
        "timezone_id": "Europe/Paris",
        "viewport": {"width": 1280, "height": 900},
    }


@pytest.fixture
def libeo_oauth_client(live_server):
    """Libeo registered as MEG's OAuth client for this server's address, as ``demo`` does it."""
    from app import register_meg_client

    register_meg_client(live_server.apps.meg, live_server.apps.libeo)
