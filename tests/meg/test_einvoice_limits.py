"""A hostile e-invoice costs its reader a bounded memory and time, and never makes another company wait.

The file of the attacker's probe: a Factur-X PDF of a few hundred kilobytes
whose embedded XML inflates to 70 MB. Read as it was, it took seconds and
gigabytes per upload, inside the upload's write transaction: every other
company's form waited for it.
"""

from __future__ import annotations

import io
import resource
import sqlite3
import threading
import time
import zlib
from html import unescape
from io import BytesIO

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, StreamObject
from sqlalchemy import func, select

from core.db import QueuedWriterConnection, sqlite_file
from core.einvoices.reading import READ_MEMORY_BYTES, EInvoiceError, read_einvoice
from core.limited import Overrun, run_limited
from devtools.einvoice_samples import cii_xml, facturx_pdf, sample_invoice
from models.meg import Supplier, db
from models.meg.einvoices.imports import PendingImport

UPLOAD = "/meg/achats/factures/importer"
NOTE = b"<ram:IncludedNote><ram:Content>x</ram:Content></ram:IncludedNote>"


def inflating_facturx(inflated_bytes: int = 70_000_000, note: bytes = NOTE) -> bytes:
    """A genuine Factur-X PDF whose factur-x.xml is padded with notes up to ``inflated_bytes``, compressed.

    Built without ever holding the inflated XML in memory."""
    invoice = sample_invoice()
    head, tail = cii_xml(invoice).split(b"</rsm:ExchangedDocument>", 1)
    compressor = zlib.compressobj(9)
    chunk = note * 1000
    parts = [compressor.compress(head)]
    parts += [compressor.compress(chunk) for _ in range(inflated_bytes // len(chunk))]
    parts += [compressor.compress(b"</rsm:ExchangedDocument>" + tail), compressor.flush()]
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(facturx_pdf(invoice))))
    for reference in writer._objects:
        stream = reference.get_object() if reference is not None else None
        if isinstance(stream, StreamObject) and stream.get("/Type") == "/EmbeddedFile":
            stream._data = b"".join(parts)
            stream[NameObject("/Filter")] = NameObject("/FlateDecode")
            stream.pop("/DecodeParms", None)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return inflating_facturx()


@pytest.fixture
def admin(client, demo, meg_auth):
    meg_auth.login()
    return client


def upload(client, content: bytes, filename: str = "facture.pdf"):
    return client.post(UPLOAD, data={"file": (BytesIO(content), filename)}, content_type="multipart/form-data")


def pending_count(meg_app) -> int:
    with meg_app.app_context():
        return db.session.scalar(select(func.count(PendingImport.id)))


def own_peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_a_small_pdf_inflating_to_70_mb_is_refused_within_a_bounded_memory_and_time(admin, meg_app, bomb, caplog):
    assert len(bomb) < 400_000
    assert upload(admin, facturx_pdf(sample_invoice())).status_code == 302  # MEG has been serving for a while
    caplog.set_level("INFO", logger="core.limited")
    caplog.clear()
    before = own_peak_bytes()
    answer = upload(admin, bomb)

    assert answer.status_code == 422
    page = unescape(answer.get_data(as_text=True))
    assert "dépassent 10 Mo une fois décompressées" in page and "refusé par sécurité" in page
    assert "rien n'a été enregistré" in page
    assert pending_count(meg_app) == 1  # the ordinary file's
    # Refused by the decompression cap (the words above), not by the worker's time limit, which bounds
    # the wait anyway (test_the_reading_worker_is_stopped_at_its_limits); no wall clock here: a loaded
    # machine would make it lie.
    # The file was read in a worker of its own, which stayed within its budget…
    (worker,) = [r for r in caplog.records if r.name == "core.limited"]
    assert worker.peak_memory_bytes < READ_MEMORY_BYTES
    # … and not by the web worker itself: its own peak did not move by the XML's weight.
    assert own_peak_bytes() - before < 50 * 1024 * 1024


def test_an_xml_of_countless_elements_under_10_mb_is_refused_before_its_tree_is_built():
    # 9 MB of notes: 420 000 elements, each a node in memory.
    with pytest.raises(EInvoiceError, match="plus de 200 000 éléments"):
        read_einvoice("facture.pdf", inflating_facturx(9_000_000))
    deep = b"<a>" * 100 + b"</a>" * 100
    with pytest.raises(EInvoiceError, match="plus de 64 niveaux"):
        read_einvoice("facture.xml", b'<?xml version="1.0"?>' + deep)


def test_the_upload_reads_its_file_without_taking_the_writers_turn(admin, meg_app, bomb):
    """Another writer holds the writers' turn for the whole upload: the refusal still comes at once.

    On SQLite the turn is the database's single writer lock; on PostgreSQL, another transaction holds
    the table where an accepted upload would be written, locked against every writer."""
    with meg_app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as other:
            other.exec_driver_sql(f"LOCK TABLE {PendingImport.__tablename__} IN EXCLUSIVE MODE")
            answers: list = []
            reader = threading.Thread(target=lambda: answers.append(upload(admin, bomb)), daemon=True)
            reader.start()
            # Bounded, not timed: had the upload waited for the lock, it would still be waiting.
            reader.join(120)
            waiting = reader.is_alive()
            other.rollback()
        reader.join(120)
        assert not waiting, "the upload waited for another writer before reading its file"
        assert answers[0].status_code == 422
        return
    path = sqlite_file(meg_app.config["SQLALCHEMY_DATABASE_URI"])
    other = sqlite3.connect(path, timeout=1, factory=QueuedWriterConnection, isolation_level=None,
                            check_same_thread=False)
    other.take_turn()
    other.execute("BEGIN IMMEDIATE")
    try:
        # Had the upload waited for the turn, SQLite would have said « database is locked » (a 503)
        # once the wait ran out: the refusal itself proves the file was read outside the turn.
        answer = upload(admin, bomb)
        assert answer.status_code == 422
    finally:
        other.rollback()
        other.close()


def test_three_hostile_uploads_at_once_do_not_delay_another_companys_form(apps, demo, meg_app, bomb):
    def signed_in(email):
        client = apps.root.test_client()
        assert client.post("/meg/connexion", data={"email": email, "password": "demo-meg-2026"}).status_code == 302
        return client

    attackers = [signed_in("admin@boulangerie-martin.fr") for _ in range(3)]
    garage = signed_in("gerant@garage-leroy.fr")
    answers, took = {}, {}

    def timed(name, call):
        started = time.monotonic()
        answers[name] = call()
        took[name] = time.monotonic() - started

    threads = [threading.Thread(target=timed, args=(f"upload {i}", lambda c=c: upload(c, bomb)))
               for i, c in enumerate(attackers)]
    for thread in threads:
        thread.start()
    timed("garage", lambda: garage.post("/meg/achats/fournisseurs/nouveau", data={
        "name": "Carrosserie Blanc", "iban": "FR7630006000010000000791963", "bic": "AGRIFRPPXXX"}))
    for thread in threads:
        thread.join()

    # Each answered for itself, the garage's form saved: no upload held the writers' turn it needed
    # (the test above proves the reading happens outside it; durations are left to the benchmark).
    assert answers["garage"].status_code == 302
    assert [answers[f"upload {i}"].status_code for i in range(3)] == [422, 422, 422]
    with meg_app.app_context():
        assert db.session.scalar(select(func.count(Supplier.id)).where(Supplier.name == "Carrosserie Blanc")) == 1
    assert pending_count(meg_app) == 0


def _hoard(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def test_work_beyond_its_memory_or_time_is_stopped():
    assert run_limited(_hoard, 10, memory_bytes=64 * 1024 * 1024, seconds=30).value == 10 * 1024 * 1024
    with pytest.raises(Overrun) as memory:
        run_limited(_hoard, 512, memory_bytes=64 * 1024 * 1024, seconds=30)
    assert memory.value.limit == "memory"
    with pytest.raises(Overrun) as slow:  # a 60 s task stopped by its 0.5 s limit (it would otherwise return)
        run_limited(_sleep, 60, memory_bytes=64 * 1024 * 1024, seconds=0.5)
    assert slow.value.limit == "time"
