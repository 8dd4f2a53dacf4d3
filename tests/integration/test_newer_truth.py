"""Newer truth wins: no ordering of replays, sync passes and clicks moves a payment back.

Each payment Libeo describes carries its version (one more at each change);
MEG writes a state only over an older one. And an Idempotency-Key claim a
dead Libeo process left « in progress » is taken over after a lease of
seconds, so one sync pass after Libeo is back settles the payment.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta

from sqlalchemy import insert, select, text, update

from core.dates import date_fr, utcnow
from models.meg import db as meg_db

from .conftest import libeo_payments, meg_libeo_invoices
from .deployment import FACTORIES, ROOT, WebClient
from .test_deployed_apart import libeo_invoice_ids
from .test_payment_truth_faults import (
    PAYMENTS,
    assert_same_story,
    chosen_date,
    confirm_payment,
    connect,
    meg_payments,
    shows_everywhere,
    sync,
)


def page(response) -> str:
    return response.get_data(as_text=True)


def test_a_stale_replayed_answer_never_overwrites_a_newer_state(connected, client, meg_app, libeo_app):
    """The replay's stored first answer (« scheduled ») arrives after the feed told « cancelled »."""
    from models.libeo import db as libeo_db
    from models.libeo.accounts.models import Account
    from models.libeo.payments.models import Payment
    from models.libeo.payments.order import cancel_payment
    from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState
    from models.meg.libeo_link.connection import connection_of
    from models.meg.libeo_link.paying import record_payment
    from models.meg.libeo_link.sync import sync_pass

    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    assert "Paiement programmé" in page(client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True))
    with libeo_app.app_context():
        payment = libeo_db.session.scalar(select(Payment))
        cancel_payment(libeo_db.session.get(Account, connected["account_id"]), payment, "claire@boulangerie-martin.fr")
        libeo_db.session.commit()
    with meg_app.app_context():
        sync_pass()
        attempt = meg_db.session.scalar(select(PaymentAttempt))
        assert attempt.status is PaymentState.CANCELLED
        # A replay of the same request: Libeo answers what it answered the first time, version 1.
        connection = connection_of(attempt.invoice.company)
        stale = connection.client().create_payment(f"meg-{invoice_id}", attempt.idempotency_key, attempt.request_body)
        assert stale.status == "scheduled" and stale.version == 1 and attempt.libeo_version == 2
        record_payment(attempt, stale, seen=True)
        meg_db.session.commit()
    assert "Annulé" in page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "Programmé" not in page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert [p["status"] for p in libeo_payments(libeo_app)] == ["cancelled"]


def test_two_sync_passes_at_once_never_bring_back_a_cancelled_payment(faulty):
    """A lost answer, the payment cancelled in Libeo; one pass replays (its answer slow), another reads the feed."""
    libeo, meg = connect(faulty)
    (invoice_id, number), *_ = libeo_invoice_ids(faulty)
    faulty.proxy.drop_answers(PAYMENTS)
    confirm_payment(meg, invoice_id, chosen_date())
    faulty.proxy.heal()
    [payment] = faulty_payments(faulty)
    cancelled = libeo.submit(f"/paiements/{payment['id']}/annuler", data={"next": f"/paiements/{payment['id']}"})
    assert "est annulé" in WebClient.text(cancelled)

    faulty.proxy.slow_answers(PAYMENTS, 4)  # the replay's answer (Libeo's stored « scheduled ») comes late
    replaying = subprocess.Popen([sys.executable, "-m", "flask", "--app", FACTORIES["meg"], "meg", "sync"],
                                 cwd=ROOT, env=faulty.sides["meg"].env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not any("payments" in line for line in faulty.proxy.forwarded) and time.monotonic() < deadline:
        time.sleep(0.05)
    sync(faulty)  # meanwhile another pass reads the events feed: « cancelled »
    shows_everywhere(meg, invoice_id, number, "Annulé")
    assert replaying.wait(timeout=60) == 0
    faulty.proxy.heal()
    shows_everywhere(meg, invoice_id, number, "Annulé")
    sync(faulty)
    shows_everywhere(meg, invoice_id, number, "Annulé")
    assert_same_story(faulty)


def faulty_payments(deployment) -> list[dict]:
    engine = deployment.engine("libeo")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, status FROM payment ORDER BY id")).mappings().all()
    engine.dispose()
    return [dict(row) for row in rows]


def test_a_claim_left_by_a_dead_libeo_process_is_taken_over_within_seconds(faulty):
    """Libeo died after claiming the key (its work rolled back): one sync pass after it is back settles it."""
    from blueprints.libeo.api.openapi import PAYMENT_BODY
    from blueprints.libeo.api.validation import validate
    from models.libeo.payments.idempotency import fingerprint
    from models.libeo.payments.models import IdempotencyRecord

    faulty.sides["libeo"].env["IDEMPOTENCY_LEASE_SECONDS"] = "10"
    libeo, meg = connect(faulty)
    (invoice_id, number), *_ = libeo_invoice_ids(faulty)
    faulty.stop("libeo")  # its front still accepts: the request is unheard
    assert "Vérification en cours" in confirm_payment(meg, invoice_id, chosen_date())
    faulty.start("libeo")

    # What the process that died mid-request left: its committed claim of MEG's key, nothing else.
    engine = faulty.engine("meg")
    with engine.connect() as connection:
        key, body = connection.execute(text("SELECT idempotency_key, request_body FROM libeo_payment")).one()
    engine.dispose()
    body = body if isinstance(body, dict) else json.loads(body)
    claimed = fingerprint("POST", f"/api/v1/invoices/meg-{invoice_id}/payments", validate(PAYMENT_BODY, body))
    # The claim's start is set, not waited for: ``sync`` starts a whole ``flask meg sync`` process, which on
    # a loaded machine may take longer than the lease itself, so a claim made « now » could already have
    # expired when its replay arrives (the « still running » step then failed at random). A claim made just
    # before the replay (its start ahead of the clock by more than any start-up) is within its lease; one
    # made a lease and a second ago is over it.
    lease = timedelta(seconds=10)
    engine = faulty.engine("libeo")
    with engine.begin() as connection:
        account_id = connection.execute(text("SELECT id FROM account")).scalar_one()
        connection.execute(insert(IdempotencyRecord.__table__).values(
            account_id=account_id, key=key, request_hash=claimed, state="in_progress",
            created_at=utcnow() + timedelta(minutes=10), owner="dead-process"))
    engine.dispose()

    sync(faulty)  # within the lease: still running, as far as Libeo can tell
    shows_everywhere(meg, invoice_id, number, "Vérification en cours")
    engine = faulty.engine("libeo")
    with engine.begin() as connection:
        connection.execute(update(IdempotencyRecord.__table__).where(IdempotencyRecord.__table__.c.key == key)
                           .values(created_at=utcnow() - lease - timedelta(seconds=1)))
    engine.dispose()
    sync(faulty)  # the lease is over: this replay takes the claim over and pays, once
    shows_everywhere(meg, invoice_id, number, f"Programmé le {date_fr(chosen_date())}")
    assert [p["status"] for p in meg_payments(faulty)] == ["SCHEDULED"]
    assert_same_story(faulty)
