"""A « Payer » left unheard, then the connection restored with a key of ANOTHER Libeo account.

The request may have reached the former account (which then pays it): MEG
must never send it to the new account, which would pay the invoice a second
time. It reads « Vérification impossible », with the next step in words
(check in the former Libeo account whether it was paid), and the invoice
waits until an « Achats » administrator confirms it was not paid (journaled
with the person); « Payer » is then offered again. A key of the same account
pasted later replays the request as ever.

Libeo runs on a socket behind the fault proxy (real HTTP between the products).
"""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import select, update

from .conftest import BOULANGERIE_SIRET, libeo_account
from .test_disconnect_unheard import attempts, first_invoice, logged_in
from .test_payment_model import PAYMENTS, World

ADMIN = "admin@boulangerie-martin.fr"
ACHATS_USER = "compta@boulangerie-martin.fr"


@pytest.fixture
def world(tmp_path):
    built = World(tmp_path)
    built.reset()
    yield built
    built.close()


def page(response) -> str:
    return unescape(response.get_data(as_text=True))


def libeo_payments(world) -> list[tuple[int, str]]:
    """(account, status) of every payment Libeo holds, any account."""
    from models.libeo import db as libeo_db
    from models.libeo.payments.models import Payment

    with world.apps.libeo.app_context():
        return [(p.account_id, p.status.value) for p in libeo_db.session.scalars(select(Payment).order_by(Payment.id))]


def accounts_per_key(world) -> dict[str, set[int]]:
    """Which Libeo accounts received each Idempotency-Key (a payment, a replay, a void call)."""
    from models.libeo import db as libeo_db
    from models.libeo.payments.models import IdempotencyRecord

    seen: dict[str, set[int]] = {}
    with world.apps.libeo.app_context():
        for record in libeo_db.session.scalars(select(IdempotencyRecord)):
            seen.setdefault(record.key, set()).add(record.account_id)
    return seen


def sync(world) -> None:
    from models.meg.libeo_link.sync import sync_pass

    with world.apps.meg.app_context():
        sync_pass()


def key_of(world, account_id: int) -> str:
    from models.libeo import db as libeo_db
    from models.libeo.accounts.keys import issue_meg_api_key
    from models.libeo.accounts.models import Account

    with world.apps.libeo.app_context():
        key = issue_meg_api_key(libeo_db.session.get(Account, account_id))
        libeo_db.session.commit()
    return key


def siret_moves_to_another_account(world) -> tuple[int, str]:
    """As Libeo's support does when the company's SIRET goes to another account: the former one keeps its
    data « SIRET à confirmer », its MEG keys revoked; the new one (verified) gets a key. Returns (id, key)."""
    from core.dates import utcnow
    from models.libeo import db as libeo_db
    from models.libeo.accounts.models import Account, ApiKey

    with world.apps.libeo.app_context():
        former = libeo_db.session.get(Account, world.account_id)
        former.lost_siret, former.siret = former.siret, None
        libeo_db.session.execute(update(ApiKey).where(ApiKey.account_id == former.id, ApiKey.revoked_at.is_(None))
                                 .values(revoked_at=utcnow()))
        libeo_db.session.commit()
    return libeo_account(world.apps.libeo, name="Boulangerie Martin SARL (nouveau compte)",
                         siret=BOULANGERIE_SIRET, email="gerance@boulangerie-martin.fr")


def paste_key(client, key: str) -> str:
    return page(client.post("/meg/achats/options", data={"api_key": key}, follow_redirects=True))


def lost_answer(world, client, invoice_id: int) -> None:
    """« Payer » whose answer is lost: the former account made the payment, MEG shows « Vérification en cours »."""
    world.proxy.drop_answers(PAYMENTS)
    assert "Vérification en cours" in page(client.post(f"/meg/achats/factures/{invoice_id}/payer",
                                                       follow_redirects=True))
    world.proxy.heal()
    assert libeo_payments(world) == [(world.account_id, "scheduled")]


def assert_unverifiable(world, client, invoice_id: int, new_account: int) -> None:
    [attempt] = attempts(world)
    assert attempt["status"] == "unverifiable" and attempt["label"] == "Vérification impossible", attempt
    assert not any(account == new_account for account, _ in libeo_payments(world)), libeo_payments(world)
    assert all(len(accounts) == 1 for accounts in accounts_per_key(world).values()), accounts_per_key(world)
    invoice_page = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "Vérification impossible" in invoice_page
    assert "Vérifiez dans l'ancien compte Libeo" in invoice_page
    assert "avant de la payer de nouveau" in invoice_page
    assert ">Payer</a>" not in invoice_page
    options = page(client.get("/meg/achats/options"))
    assert "Vérification impossible" in options


@pytest.mark.parametrize("disconnect_first", [True, False], ids=["after-removal", "key-replaced"])
def test_an_unheard_request_is_never_sent_to_another_account(world, disconnect_first):
    """The reproduction: the former account received the request (its payment « Programmé »); the key of a new
    account pasted in « Options » must not make the new account pay the same invoice a second time."""
    client = logged_in(world)
    invoice_id, _ = first_invoice(world)
    lost_answer(world, client, invoice_id)
    new_account, new_key = siret_moves_to_another_account(world)  # the former key is revoked: no void possible
    if disconnect_first:
        page(client.post("/meg/achats/options/libeo/supprimer", follow_redirects=True))
    else:
        sync(world)  # MEG learns the key is refused: the request stays « Vérification en cours »
    assert [a["status"] for a in attempts(world)] == ["requested"]

    assert "La connexion est établie" in paste_key(client, new_key)
    sync(world)
    sync(world)
    client.post(f"/meg/achats/factures/{invoice_id}/verifier")  # « Vérifier maintenant », crafted
    assert [status for account, status in libeo_payments(world) if account == new_account] == []
    assert_unverifiable(world, client, invoice_id, new_account)
    # Nor may « Payer » (alone or in a selection) start another payment of it while it is unverifiable.
    refused = page(client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True))
    assert "Vérification impossible" in refused
    client.post("/meg/achats/reglements/selection/confirmer", data={"facture": [str(invoice_id)]})
    assert libeo_payments(world) == [(world.account_id, "scheduled")]


def test_libeo_down_at_removal_then_another_account(world):
    """Libeo unreachable when the connection is removed (nothing voided), back when the new account's key is
    pasted: the request is not replayed to it; once an administrator confirms the former account did not pay
    it (the checkbox ticked), « Payer » pays it, once, with the new account."""
    client = logged_in(world)
    invoice_id, number = first_invoice(world)
    world.proxy.down()
    assert "Vérification en cours" in page(client.post(f"/meg/achats/factures/{invoice_id}/payer",
                                                       follow_redirects=True))
    assert "Libeo n'a pas pu être joint" in page(client.post("/meg/achats/options/libeo/supprimer",
                                                             follow_redirects=True))
    world.proxy.heal()
    new_account, new_key = siret_moves_to_another_account(world)
    paste_key(client, new_key)
    sync(world)
    assert_unverifiable(world, client, invoice_id, new_account)
    assert libeo_payments(world) == []

    # Only an « Achats » administrator is offered the confirmation, with the box to tick.
    assert "Débloquer « Payer »" in page(client.get(f"/meg/achats/factures/{invoice_id}"))
    clerk = logged_in(world, ACHATS_USER)
    assert "Débloquer « Payer »" not in page(clerk.get(f"/meg/achats/factures/{invoice_id}"))

    # Bad input: nothing changes, a French message says why.
    unticked = page(client.post(f"/meg/achats/factures/{invoice_id}/non-payee", data={},
                                follow_redirects=True))
    assert "Cochez « J'ai vérifié dans l'ancien compte Libeo" in unticked
    assert [a["status"] for a in attempts(world)] == ["unverifiable"]
    refused = page(clerk.post(f"/meg/achats/factures/{invoice_id}/non-payee", data={"checked": "y"},
                              follow_redirects=True))
    assert "Seul un administrateur « Achats » peut confirmer" in refused
    assert [a["status"] for a in attempts(world)] == ["unverifiable"]
    other_invoice = first_invoice_after(world, invoice_id)
    nothing = page(client.post(f"/meg/achats/factures/{other_invoice}/non-payee", data={"checked": "y"},
                               follow_redirects=True))
    assert "n'attend pas de confirmation" in nothing
    assert client.post("/meg/achats/factures/999999/non-payee", data={"checked": "y"}).status_code == 404

    confirmed = page(client.post(f"/meg/achats/factures/{invoice_id}/non-payee", data={"checked": "y"},
                                 follow_redirects=True))
    assert "« Payer » est de nouveau proposé" in confirmed, confirmed
    [attempt] = attempts(world)
    assert attempt["status"] == "refused" and attempt["code"] == "confirmed_unpaid", attempt
    entries = journal_entries(world)
    assert any(number in message and ADMIN in who and "non payée" in message for who, message in entries), entries
    assert ">Payer</a>" in page(client.get(f"/meg/achats/factures/{invoice_id}"))

    paid = page(client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True))
    assert "Paiement programmé le" in paid, paid
    assert libeo_payments(world) == [(new_account, "scheduled")]
    assert all(len(accounts) == 1 for accounts in accounts_per_key(world).values())


def test_the_same_account_reconnected_replays_as_ever(world):
    """Former account → another account → the former account again: the request, unverifiable meanwhile, is
    replayed with the former account's new key and found paid there (never sent to the other one)."""
    from models.libeo import db as libeo_db
    from models.libeo.accounts.models import Account

    client = logged_in(world)
    invoice_id, _ = first_invoice(world)
    lost_answer(world, client, invoice_id)
    former_key = key_of(world, world.account_id)  # the key MEG holds is revoked: it cannot void with it
    sync(world)
    new_account, new_key = _another_account_keeping_the_former(world)
    paste_key(client, new_key)
    sync(world)
    assert_unverifiable(world, client, invoice_id, new_account)

    with world.apps.libeo.app_context():  # the SIRET back to the former account
        libeo_db.session.get(Account, new_account).siret = None
        libeo_db.session.flush()
        libeo_db.session.get(Account, world.account_id).siret = BOULANGERIE_SIRET
        libeo_db.session.commit()
    assert "La connexion est établie" in paste_key(client, former_key)
    sync(world)
    [attempt] = attempts(world)
    assert attempt["status"] == "scheduled", attempt
    assert libeo_payments(world) == [(world.account_id, "scheduled")]
    assert all(len(accounts) == 1 for accounts in accounts_per_key(world).values())


def _another_account_keeping_the_former(world) -> tuple[int, str]:
    """The SIRET to another account, the former account's data and its last key kept (support's review)."""
    from models.libeo import db as libeo_db
    from models.libeo.accounts.models import Account

    with world.apps.libeo.app_context():
        libeo_db.session.get(Account, world.account_id).siret = None
        libeo_db.session.commit()
    return libeo_account(world.apps.libeo, name="Boulangerie Martin SARL (nouveau compte)",
                         siret=BOULANGERIE_SIRET, email="gerance@boulangerie-martin.fr")


def first_invoice_after(world, invoice_id: int) -> int:
    from models.meg import PaymentMode, SupplierInvoice
    from models.meg import db as meg_db

    with world.apps.meg.app_context():
        return meg_db.session.scalar(
            select(SupplierInvoice.id).where(SupplierInvoice.company_id == world.company_id,
                                             SupplierInvoice.payment_mode == PaymentMode.LIBEO,
                                             SupplierInvoice.id > invoice_id).order_by(SupplierInvoice.id))


def journal_entries(world) -> list[tuple[str, str]]:
    from models.meg import db as meg_db
    from models.meg.journal import MegJournalEntry

    with world.apps.meg.app_context():
        return [(entry.actor, entry.message) for entry in meg_db.session.scalars(
            select(MegJournalEntry).where(MegJournalEntry.company_id == world.company_id))]
