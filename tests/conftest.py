"""Fixtures shared by every test: both apps, their databases, the demo data.

Each test gets fresh databases: SQLite files in its temporary folder by
default; with TEST_DATABASE_URL (postgresql://…), two PostgreSQL databases
derived from it (``<name>_meg`` and ``<name>_libeo``), emptied after the test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app import create_app
from core.dates import paris_today

PUBLIC_URL = "http://127.0.0.1:5000"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
# In CI a missing service is a failure, not a skip.
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def pytest_sessionstart(session):
    # A PostgreSQL run that cannot reach its server must stop here, loudly,
    # rather than fail every test one by one (or pass on some other database).
    if TEST_DATABASE_URL:
        _check_postgres(TEST_DATABASE_URL)


def _check_postgres(database_url: str) -> None:
    import psycopg

    url = make_url(database_url)
    if not url.drivername.startswith("postgresql"):
        pytest.exit(f"TEST_DATABASE_URL must be a postgresql:// URL, not {url.drivername!r}", returncode=4)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        psycopg.connect(admin, connect_timeout=5).close()
    except psycopg.Error as error:
        shown = url.render_as_string(hide_password=True)
        pytest.exit(f"PostgreSQL unreachable at TEST_DATABASE_URL={shown}: {error}".strip(), returncode=4)


def pytest_collection_modifyitems(config, items):
    # Tests marked "postgres" prove properties SQLite cannot have (row locks,
    # SKIP LOCKED); they run in the PostgreSQL pass of .ci/run.
    if TEST_DATABASE_URL:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL (run by .ci/run)")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


def _pg_url(side: str, worker: str) -> str:
    url = make_url(TEST_DATABASE_URL).set(drivername="postgresql+psycopg")
    name = f"{url.database}_{side}_{worker}"
    _ensure_pg_database(url, name)
    return url.set(database=name).render_as_string(hide_password=False)


_created: set[str] = set()


def _ensure_pg_database(url, name: str) -> None:
    """A new, empty database the first time this process needs it.

    A database left by an earlier run may hold tables of an older schema
    (create_all never alters a table), so it is dropped, never reused.
    """
    if name in _created:
        return
    import psycopg

    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    _created.add(name)


def database_url(side: str, tmp_path: Path, worker: str) -> str:
    if TEST_DATABASE_URL:
        return _pg_url(side, worker)
    return f"sqlite:///{tmp_path / f'{side}.sqlite3'}"


def side_configs(tmp_path: Path, worker: str | None = None, public_url: str = PUBLIC_URL) -> tuple[dict, dict]:
    # By default this process's own databases: another xdist worker's would be dropped under its feet.
    worker = worker or os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    common = {
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        "RATELIMIT_ENABLED": False,
        "PUBLIC_URL": public_url,
        "HTTP_TIMEOUT": 3.0,
    }
    meg = {
        **common,
        "SECRET_KEY": "test-secret-meg",
        "SQLALCHEMY_DATABASE_URI": database_url("meg", tmp_path, worker),
        "LIBEO_URL": f"{public_url}/libeo",
        "OAUTH_KEYS_DIR": str(tmp_path / "meg_oauth"),
        "LIBEO_KEY_ENCRYPTION_KEY": "0SlBJdXK1T4XMOgN7Y0j1yTbVvPuIMn0fJ3BqwpK8f4=",
    }
    libeo = {
        **common,
        "SECRET_KEY": "test-secret-libeo",
        "SQLALCHEMY_DATABASE_URI": database_url("libeo", tmp_path, worker),
        "MEG_URL": f"{public_url}/meg",
        "SEPA_EXPORT_DIR": str(tmp_path / "sepa"),
        # Libeo's OAuth client at MEG (see app.configure_meg_sign_in): fixed
        # here so that no test writes a secret into instance/.
        "MEG_OAUTH_CLIENT_ID": "libeo",
        "MEG_OAUTH_CLIENT_SECRET": "test-libeo-oauth-client-secret-0123456789",
    }
    return meg, libeo


@dataclass
class Apps:
    root: object
    meg: object
    libeo: object


def _empty_databases(apps: Apps) -> None:
    from models.libeo import db as libeo_db
    from models.meg import db as meg_db

    for app, db in ((apps.meg, meg_db), (apps.libeo, libeo_db)):
        with app.app_context():
            db.session.remove()
            if db.engine.dialect.name == "postgresql":
                tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
                if tables:
                    with db.engine.begin() as conn:
                        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.engine.dispose()


def plain_spaces(text: str) -> str:
    """Pages put no-break spaces where French typography wants them (core/typography.py); tests
    look for the words, so their texts read them as spaces (tests/test_typography.py checks them)."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


class PlainSpacesClient(FlaskClient):
    """The test client, whose answers' ``get_data(as_text=True)`` reads no-break spaces as spaces."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)

        def get_data(response, as_text: bool = False):
            data = super(wrapper, response).get_data(as_text=as_text)
            return plain_spaces(data) if as_text else data

        wrapper = type("PlainSpacesResponse", (self.response_wrapper,), {"get_data": get_data})
        self.response_wrapper = wrapper


def build_apps(tmp_path: Path, worker: str | None = None, *, create_tables: bool = True, **overrides) -> Apps:
    """Both products on fresh databases; their tables made by ``create_all`` (faster than migrations).

    ``worker`` names the xdist worker whose PostgreSQL databases to use: by default this process's
    own, so that a test building its own apps never writes into another worker's databases.
    """
    worker = worker or os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    from models.libeo import db as libeo_db
    from models.meg import db as meg_db

    meg_config, libeo_config = side_configs(tmp_path, worker, overrides.pop("public_url", PUBLIC_URL))
    meg_config.update(overrides.pop("meg", {}))
    libeo_config.update(overrides.pop("libeo", {}))
    root = create_app(meg_config, libeo_config)
    root.test_client_class = PlainSpacesClient
    apps = Apps(root, root.extensions["sides"]["meg"], root.extensions["sides"]["libeo"])
    if create_tables:
        for app, db in ((apps.meg, meg_db), (apps.libeo, libeo_db)):
            with app.app_context():
                db.create_all()
                stamp_at_head(app, db)
        _empty_databases(apps)  # on PostgreSQL, what an earlier test of this worker left
    return apps


def stamp_at_head(app, db) -> None:
    """``create_all`` made the tables of the latest revision: the database says so, as migrations would
    (``/readyz`` then finds it ready)."""
    from core.observability.health import migration_heads

    heads = migration_heads(str(app.extensions["migrate"].directory))
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS alembic_version "
                                "(version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        connection.execute(text("DELETE FROM alembic_version"))
        for head in sorted(heads):
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head})


@pytest.fixture
def worker_id_safe(request) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "gw0")


@pytest.fixture
def apps(tmp_path, worker_id_safe):
    built = build_apps(tmp_path, worker_id_safe)
    yield built
    stale = _stale_invoice_states(built)
    _empty_databases(built)
    # Every test is also a test that each invoice's stored state is the one its payments give.
    assert not stale, f"MEG invoices whose stored state is not their payments' (id, stored, computed): {stale}"


def _stale_invoice_states(apps: Apps) -> list:
    from models.meg import db as meg_db
    from models.meg.libeo_link.attempts import stale_invoice_states

    with apps.meg.app_context():
        meg_db.session.remove()
        try:
            with meg_db.engine.connect() as connection:
                return stale_invoice_states(connection, limit=20)
        except OperationalError:  # a test that removed or broke MEG's database: nothing to compare
            return []


@pytest.fixture
def meg_app(apps):
    return apps.meg


@pytest.fixture
def libeo_app(apps):
    return apps.libeo


@pytest.fixture
def client(apps):
    """A browser-like client of the combined app: paths start with /meg or /libeo."""
    return apps.root.test_client()


@pytest.fixture
def demo(meg_app):
    """MEG's demo data."""
    from models.meg.demo import create_demo_data

    with meg_app.app_context():
        create_demo_data()


class MegAuth:
    def __init__(self, client):
        self.client = client

    def login(self, email="admin@boulangerie-martin.fr", password="demo-meg-2026"):
        return self.client.post("/meg/connexion", data={"email": email, "password": password})

    def logout(self):
        return self.client.post("/meg/deconnexion")


@pytest.fixture
def meg_auth(client):
    return MegAuth(client)


# Ports for servers the tests start in another process (gunicorn, localstripe, nginx): chosen below the
# kernel's ephemeral range, so that no outgoing connection takes one between its choice and the server's bind,
# in a block of this xdist worker's own, so that the other worker never picks it, and never twice in a run.
# (A port the kernel gave for ``bind(("127.0.0.1", 0))`` and then released was taken by the other worker's
# server: MEG's client then logged in to that worker's Libeo.)
_PORT_BLOCK = 1500
_ports_given: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, that no other test of this run is given."""
    import random
    import socket

    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    first = 20000 + (index % 8) * _PORT_BLOCK
    start = random.randrange(_PORT_BLOCK)
    for step in range(_PORT_BLOCK):
        port = first + (start + step) % _PORT_BLOCK
        if port in _ports_given:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_given.add(port)
        return port
    raise RuntimeError(f"no free port left between {first} and {first + _PORT_BLOCK - 1}")


@pytest.fixture(scope="session")
def localstripe():
    """A real localstripe on a free loopback port, for the tests of « Abonnement »."""
    from devtools.localstripe_server import LocalStripe

    server = LocalStripe(f"http://127.0.0.1:{free_port()}")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on a free loopback port, keeping what it receives."""
    from devtools.smtp_server import LocalSmtp

    server = LocalSmtp().start()
    yield server
    server.stop()


@pytest.fixture
def mail(apps, smtp):
    """Both products send their notifications to ``smtp``; ``mail.send(side)`` runs a worker pass."""
    from tests.mail import Mailbox

    return Mailbox(apps, smtp)


def meg_initiator(root_app, siret: str | None, email: str, role: str = "user") -> str:
    """MEG's signed word on who asks for a payment (header ``MEG-Initiator``), made with MEG's own key as MEG's
    client makes it: for the tests that call Libeo's API as MEG would."""
    from models.meg.companies.models import Company
    from models.meg.signing import initiator_assertion

    meg = root_app.extensions["sides"]["meg"]
    with meg.app_context():
        return initiator_assertion(Company(id=0, name="", siret=siret), email, role)


_DAY_OF_THE_RUN = [paris_today()]


def refresh_dated_constants() -> bool:
    """A module's constants derived from today (an execution date, a due date, a date shown) are computed
    again, by its ``dated_constants()``, when the run has crossed midnight in Paris since they were: a
    module imported at 23:59 would otherwise ask for yesterday's execution date and read yesterday's
    date on pages that show today's. True when they were."""
    import sys

    today = paris_today()
    if today == _DAY_OF_THE_RUN[0]:
        return False
    _DAY_OF_THE_RUN[0] = today
    modules = [module for name, module in list(sys.modules.items()) if name.startswith("tests.") and module]
    own: dict[int, set[str]] = {}
    fresh: list[tuple[str, object, object]] = []  # (name, the value of the day before, today's)
    for module in modules:
        dated = getattr(module, "dated_constants", None)
        if callable(dated):
            values = dated()
            own[id(module)] = set(values)
            fresh += [(key, vars(module).get(key), value) for key, value in values.items()]
            vars(module).update(values)
    # A module that imported such a constant (``from .conftest import RUN_DAY``) holds the very object of
    # the day before: it gets today's too, else it would run yesterday's files against today's payments.
    for module in modules:
        names = vars(module)
        for key, before, after in fresh:
            if before is not None and key not in own.get(id(module), ()) and names.get(key) is before:
                names[key] = after
    return True


@pytest.fixture(autouse=True)
def _dates_of_today():
    refresh_dated_constants()
