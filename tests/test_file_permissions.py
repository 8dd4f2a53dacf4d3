"""Files only their owner reads: databases, WAL/SHM, SEPA files, e-invoices, secrets, whatever the umask.

Under the usual umask (022) both SQLite databases, their WAL files and the
SEPA files used to be 0644: any account of the machine could read password
hashes, IBANs and invoices. Each product now creates its files 0600 and its
folders 0700, and says at start-up which of the files it keeps others may read.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from config import BASE_DIR
from tests.conftest import _empty_databases, build_apps


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask():
    """The umask most systems give a session (files 0644, folders 0755), put back afterwards."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def sqlite_configs(tmp_path: Path) -> dict:
    return {
        "meg": {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'data' / 'meg.sqlite3'}"},
        "libeo": {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'data' / 'libeo.sqlite3'}",
                  "SEPA_EXPORT_DIR": str(tmp_path / "sepa")},
    }


def test_databases_their_wal_files_and_sepa_files_are_their_owners_only(tmp_path, usual_umask):
    from models.libeo import db as libeo_db
    from models.libeo.payments.sepa import execute_due_payments
    from models.meg import db as meg_db
    from models.meg.demo import create_demo_data
    from tests.libeo.conftest import DEBTOR_IBAN, Api, make_account, make_key

    (tmp_path / "data").mkdir()
    apps = build_apps(tmp_path, **sqlite_configs(tmp_path))
    try:
        with apps.meg.app_context():
            create_demo_data()
            meg_db.session.execute(meg_db.text("SELECT 1"))  # a connection of the pool stays open
        info = make_account(apps.libeo, name="Boulangerie Martin SARL", debtor_iban=DEBTOR_IBAN)
        api = Api(apps.root.test_client(), make_key(apps.libeo, info.id))
        assert api.put_invoice("meg-1").status_code == 201
        assert api.pay("meg-1").status_code == 201
        with apps.libeo.app_context():
            report = execute_due_payments(apps.libeo.config["SEPA_EXPORT_DIR"], date(2099, 12, 31))
            sepa_file = Path(report.batches[0].file_path)
            # The pool keeps a connection open: the WAL and SHM files are there to be looked at.
            libeo_db.session.execute(libeo_db.text("SELECT 1"))
            data = tmp_path / "data"
            kept = [data / f"{side}.sqlite3{suffix}" for side in ("meg", "libeo") for suffix in ("", "-wal", "-shm")]
            for path in [*kept, sepa_file]:
                assert path.exists(), path
                assert mode(path) == 0o600, f"{path}: {mode(path):04o}"
            assert mode(sepa_file.parent) == 0o700
    finally:
        _empty_databases(apps)


def test_a_fresh_instance_folder_is_its_owners_only_whatever_the_umask(tmp_path):
    """``flask demo`` (what ``make run`` starts with) under umask 022: databases, secrets, e-invoices."""
    instance = tmp_path / "instance"
    env = {**os.environ, "INSTANCE_PATH": str(instance)}
    for name in ("MEG_DATABASE_URL", "LIBEO_DATABASE_URL", "MEG_SECRET_KEY", "LIBEO_SECRET_KEY"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "demo"], cwd=BASE_DIR, env=env, capture_output=True,
        text=True, timeout=240, preexec_fn=lambda: os.umask(0o022),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    paths = [instance, *instance.rglob("*")]
    assert {"meg.sqlite3", "libeo.sqlite3", "meg_secret_key.txt", "e-invoices"} <= {p.name for p in paths}
    assert any(p.suffix == ".pdf" for p in paths)
    loose = {str(p.relative_to(tmp_path)): f"{mode(p):04o}" for p in paths
             if mode(p) != (0o700 if p.is_dir() else 0o600)}
    assert not loose, loose


def test_start_up_names_the_files_others_may_read(tmp_path, caplog):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    database = data / "meg.sqlite3"
    database.touch()
    database.chmod(0o644)
    sepa = tmp_path / "sepa"
    sepa.mkdir()
    sepa.chmod(0o755)
    (sepa / "LBO-1.xml").write_text("<Document/>")
    (sepa / "LBO-1.xml").chmod(0o640)
    with caplog.at_level(logging.WARNING):
        apps = build_apps(tmp_path, **sqlite_configs(tmp_path))
    _empty_databases(apps)
    warnings = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert f"{database} (0644)" in warnings
    assert f"{sepa / 'LBO-1.xml'} (0640)" in warnings
    assert f"{sepa} (0755)" in warnings
    assert "chmod 600" in warnings
    # Nothing is changed behind the operator's back: they decide.
    assert mode(database) == 0o644
