"""Requests MEG never heard answered are asked again by the sync pass, a few at a time, each in its turn.

The pass takes at most its limit of them; those Libeo keeps refusing (a revoked key, Libeo out of reach)
must not take every turn: the least recently tried go first, and a refused key waits a few minutes.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from core.dates import utcnow
from models.meg import Company, PaymentAttempt, SupplierInvoice, User
from models.meg import db as meg_db

from .conftest import libeo_back, libeo_down, meg_libeo_invoices


def unheard_requests(meg_app, count: int) -> list[int]:
    """``count`` requests of Boulangerie Martin's first Libeo invoices, as « Payer » records them before sending."""
    from models.meg.libeo_link.attempts import Payer
    from models.meg.libeo_link.connection import connection_of
    from models.meg.libeo_link.paying import new_attempt

    ids, invoices = [], meg_libeo_invoices(meg_app)[:count]
    with meg_app.app_context():
        user = meg_db.session.scalar(select(User).where(User.email == "admin@boulangerie-martin.fr"))
        company = meg_db.session.scalar(select(Company).where(Company.name == "Boulangerie Martin SARL"))
        account_id = connection_of(company).libeo_account_id
        for invoice_id, _, _ in invoices:
            invoice = meg_db.session.get(SupplierInvoice, invoice_id)
            attempt = new_attempt(invoice, None, user, Payer(user.email, "user"), date.today() + timedelta(days=9),
                                  account_id)
            meg_db.session.add(attempt)
            meg_db.session.flush()
            ids.append(attempt.id)
        meg_db.session.commit()
    return ids


def replay_a_pass(meg_app, limit: int, now=None) -> list[int]:
    """One pass's replays, ``limit`` at most: the attempts it asked again."""
    from models.meg.libeo_link.attempts import claim_unheard
    from models.meg.libeo_link.paying import replay

    with meg_app.app_context():
        claimed = claim_unheard(now or utcnow() + timedelta(seconds=1), limit=limit)
        for attempt_id in claimed:
            replay(meg_db.session.get(PaymentAttempt, attempt_id))
        return claimed


def test_requests_libeo_cannot_answer_do_not_take_every_turn(connected, apps, meg_app):
    """With as many unanswerable requests as a pass takes, the others were never asked again: always the same
    oldest ones, each released at once for the next pass."""
    first, second, third = unheard_requests(meg_app, 3)
    saved = libeo_down(apps)
    assert replay_a_pass(meg_app, limit=2) == [first, second]
    assert replay_a_pass(meg_app, limit=2) == [third, first]
    assert replay_a_pass(meg_app, limit=2) == [second, third]
    libeo_back(apps, saved)
    replay_a_pass(meg_app, limit=3)
    with meg_app.app_context():
        assert {a.status.value for a in meg_db.session.scalars(select(PaymentAttempt))} == {"scheduled"}


def test_a_refused_key_is_not_tried_again_at_every_pass(connected, apps, meg_app, libeo_app):
    from models.libeo import Account
    from models.libeo import db as libeo_db
    from models.libeo.accounts.keys import revoke_api_key

    [request] = unheard_requests(meg_app, 1)
    with libeo_app.app_context():
        revoke_api_key(libeo_db.session.get(Account, connected["account_id"]))
        libeo_db.session.commit()
    assert replay_a_pass(meg_app, limit=50) == [request]  # answered 401: « Vérification en cours »
    assert replay_a_pass(meg_app, limit=50) == []
    assert replay_a_pass(meg_app, limit=50, now=utcnow() + timedelta(minutes=6)) == [request]
