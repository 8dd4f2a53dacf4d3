"""« Payer la sélection » in Libeo's « Factures »: invoices entered in Libeo, one confirmation, each its own payment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.calendar import next_business_day
from core.dates import date_fr, paris_today
from models.libeo import Account, Payment, db
from models.libeo.accounts.models import Plan
from tests.factories import libeo_invoice
from tests.helpers import page as text
from tests.helpers import words

from .conftest import PASSWORD, make_account, valid_iban

SELECTION = "/libeo/factures/selection"
SUPPLIERS = ("Minoterie Dupuis", "Laiterie des Prés", "Imprimerie Vidal", "Transports Garnier", "Cabinet Roussel",
             "Papeterie Lemoine", "Verrerie Dubois")


def add_invoices(libeo_app, account_id: int, count: int) -> list[int]:
    """``count`` invoices entered in Libeo, each to a supplier of its own (its own IBAN)."""
    today = paris_today()
    with libeo_app.app_context():
        account = db.session.get(Account, account_id)
        ids = []
        for n in range(count):
            invoice = libeo_invoice(account, f"LS-{n + 1:03d}", supplier_name=SUPPLIERS[n],
                                    supplier_iban=valid_iban(500 + n), due_date=today + timedelta(days=20 + n),
                                    amount_cents=20_000 + 100 * n)
            ids.append(invoice.id)
        db.session.commit()
        return ids


def payments(libeo_app) -> int:
    with libeo_app.app_context():
        return db.session.scalar(select(func.count(Payment.id)))


def test_a_selection_of_one_invoice_says_confirmer_le_paiement(client, libeo_app, signed_in):
    """Not « Confirmer les 1 paiement » (the crawler's walk of the selection found it)."""
    [invoice_id] = add_invoices(libeo_app, signed_in.id, 1)
    confirmation = text(client.get(SELECTION, query_string={"facture": [invoice_id]}))
    assert ">Confirmer le paiement</button>" in confirmation and "Confirmer les 1" not in confirmation
    assert "pour toutes" not in confirmation and "le refus de l'une" not in confirmation  # there is but one


def test_a_selection_is_confirmed_once_and_each_invoice_told(client, libeo_app, signed_in):
    ids = add_invoices(libeo_app, signed_in.id, 3)
    listing = text(client.get("/libeo/factures/"))
    assert "Payer la sélection" in listing and listing.count('name="facture"') == 3
    confirmation = text(client.get(SELECTION, query_string={"facture": ids}))
    assert "Confirmer les 3 paiements" in confirmation and "Total par date d'exécution" in confirmation
    later = next_business_day(paris_today() + timedelta(days=45))
    result = text(client.post(SELECTION, data={"facture": ids, f"date-{ids[0]}": later.isoformat()}))
    assert "3 factures : 3 programmées" in result
    assert f"Programmé le {date_fr(later)}" in result
    assert payments(libeo_app) == 3
    # The same confirmation sent again (a refresh, a double click) pays nothing twice.
    again = text(client.post(SELECTION, data={"facture": ids}))
    assert "3 refusées" in again and "est déjà programmé" in again
    assert payments(libeo_app) == 3
    # Every list says the same.
    listing = text(client.get("/libeo/factures/"))
    assert listing.count('data-testid="invoice-status">Programmé le') == 3 and 'name="facture"' not in listing
    assert listing.count("Non sélectionnable : « Programmé le") == 6  # on hover or focus, and for screen readers


def test_a_quota_covering_part_of_the_selection(client, libeo_app, signed_in):
    ids = add_invoices(libeo_app, signed_in.id, 7)
    confirmation = text(client.get(SELECTION, query_string={"facture": ids}))
    assert ("Il vous reste 5 paiements ce mois-ci sur la formule Gratuit : 2 factures ne seront pas payées"
            in confirmation)
    result = text(client.post(SELECTION, data={"facture": ids}))
    assert "7 factures : 5 programmées" in result and "2 refusées" in result
    assert result.count("Non payée — limite de la formule atteinte") == 2
    assert result.count("Votre formule Gratuit inclut 5 paiements par mois") == 2
    assert "Passer à la formule Partnerships" in result
    assert payments(libeo_app) == 5


def test_one_invoice_left_out_by_the_plan_is_said_in_the_singular(client, libeo_app, signed_in):
    ids = add_invoices(libeo_app, signed_in.id, 6)
    confirmation = words(client.get(SELECTION, query_string={"facture": ids}))
    assert ("Il vous reste 5 paiements ce mois-ci sur la formule Gratuit : 1 facture ne sera pas payée "
            "(la dernière de la liste)." in confirmation)


def test_the_button_and_the_totals_count_only_what_the_plan_will_pay(client, libeo_app, signed_in):
    due = next_business_day(paris_today() + timedelta(days=20))
    with libeo_app.app_context():
        account = db.session.get(Account, signed_in.id)
        ids = [libeo_invoice(account, f"LS-{n + 1:03d}", supplier_name=SUPPLIERS[n], supplier_iban=valid_iban(500 + n),
                             due_date=due, amount_cents=10_000).id for n in range(6)]
        db.session.commit()
    confirmation = words(client.get(SELECTION, query_string={"facture": ids}))
    assert "1 facture ne sera pas payée" in confirmation
    assert ">Confirmer les 5 paiements</button>" in confirmation and "Confirmer les 6" not in confirmation
    assert f"Le {date_fr(due)} : 5 virements, 500,00 €" in confirmation


def test_a_new_iban_is_said_before_confirming_and_held(client, libeo_app, signed_in):
    [first] = add_invoices(libeo_app, signed_in.id, 1)
    assert "1 programmée" in text(client.post(SELECTION, data={"facture": [first]}))
    with libeo_app.app_context():
        account = db.session.get(Account, signed_in.id)
        invoice = libeo_invoice(account, "LS-NEW", supplier_name=SUPPLIERS[0], supplier_iban=valid_iban(99),
                                amount_cents=31_400)
        db.session.commit()
        changed = invoice.id
    confirmation = text(client.get(SELECTION, query_string={"facture": [changed]}))
    assert f"Sera retenu pour approbation : Nouvel IBAN pour {SUPPLIERS[0]}" in confirmation
    result = text(client.post(SELECTION, data={"facture": [changed]}))
    assert "1 facture : 1 retenue pour approbation" in result and "Retenu pour approbation : nouvel IBAN" in result


@pytest.mark.parametrize("form, message", [
    ({}, "Aucune facture sélectionnée"),
    ({"facture": ["x"]}, "La sélection contient une facture inconnue"),
    ({"facture": [str(n) for n in range(1, 10_001)]}, "Une sélection compte au plus 200 factures"),
    ({"facture": ["²"]}, "La sélection contient une facture inconnue"),  # a digit to str.isdigit, not to int
    ({"facture": ["١"]}, "La sélection contient une facture inconnue"),
    ({"facture": [str(2**31)]}, "La sélection contient une facture inconnue"),  # beyond an INTEGER column
    ({"facture": ["0"]}, "La sélection contient une facture inconnue"),
])
def test_bad_selections_are_refused_whole(client, libeo_app, signed_in, form, message):
    add_invoices(libeo_app, signed_in.id, 2)
    assert message in text(client.post(SELECTION, data=form, follow_redirects=True))
    assert message in text(client.get(SELECTION, query_string=form, follow_redirects=True))
    assert payments(libeo_app) == 0


def test_a_selection_of_tens_of_thousands_of_invoices_is_refused_at_once(client, libeo_app, signed_in):
    """A forged form may tick any number of boxes (near 1 Mo of them): refused as soon as one too many is
    read, without going through the others (the value at the end, which would be refused on its own, is never
    read)."""
    add_invoices(libeo_app, signed_in.id, 2)
    form = {"facture": [*(str(n) for n in range(1, 60_001)), "²"]}
    shown = text(client.post(SELECTION, data=form, follow_redirects=True))
    assert "Une sélection compte au plus 200 factures (plus de 200 cochées) : payez-les en plusieurs fois." in shown
    assert payments(libeo_app) == 0


def test_another_accounts_invoice_refuses_the_whole(client, libeo_app, signed_in):
    mine = add_invoices(libeo_app, signed_in.id, 2)
    other = make_account(libeo_app, plan=Plan.PARTNERSHIPS)
    theirs = add_invoices(libeo_app, other.id, 1)
    shown = text(client.post(SELECTION, data={"facture": mine + theirs}, follow_redirects=True))
    assert "La sélection contient une facture introuvable dans ce compte : rien n'a été payé" in shown
    assert payments(libeo_app) == 0


@pytest.mark.parametrize("typed, message", [
    ("31/02/2027", "n'est pas une date"),
    ("2020-01-06", "est passée"),
])
def test_a_tampered_date_refuses_the_whole(client, libeo_app, signed_in, typed, message):
    ids = add_invoices(libeo_app, signed_in.id, 3)
    shown = text(client.post(SELECTION, data={"facture": ids, f"date-{ids[2]}": typed}, follow_redirects=True))
    assert message in shown and "ien n'a été payé" in shown
    assert "Confirmer les 3 paiements" in shown  # back on the confirmation
    assert payments(libeo_app) == 0


def test_the_selection_needs_a_signed_in_user(client, libeo_app, account):
    ids = add_invoices(libeo_app, account.id, 1)
    response = client.post(SELECTION, data={"facture": ids})
    assert response.status_code in (302, 401) and payments(libeo_app) == 0
    client.post("/libeo/connexion", data={"email": account.email, "password": PASSWORD})


def test_the_selections_transfers_of_one_date_go_in_one_sepa_file(client, libeo_app, signed_in):
    from models.libeo import SepaBatch
    from models.libeo.payments.sepa import execute_due_payments

    from .conftest import DEBTOR_IBAN

    ids = add_invoices(libeo_app, signed_in.id, 3)
    with libeo_app.app_context():
        db.session.get(Account, signed_in.id).debtor_iban = DEBTOR_IBAN
        db.session.commit()
    day = next_business_day(paris_today() + timedelta(days=10))
    assert "3 programmées" in text(client.post(SELECTION, data={"facture": ids, "date_all": day.isoformat()}))
    with libeo_app.app_context():
        execute_due_payments(None, day)
        [batch] = db.session.scalars(select(SepaBatch)).all()
        assert batch.xml.count(b"<PmtInf>") == 1 and batch.xml.count(b"<CdtTrfTxInf>") == 3


def test_a_past_due_invoice_of_the_selection_says_once_that_it_will_be_paid_late(client, libeo_app, signed_in):
    """As « Payer par virement » says it, and MEG's « Payer » and « Payer la sélection »."""
    due = paris_today() - timedelta(days=10)
    with libeo_app.app_context():
        late = libeo_invoice(db.session.get(Account, signed_in.id), "LS-LATE", due_date=due).id
        db.session.commit()
    [on_time] = add_invoices(libeo_app, signed_in.id, 1)
    confirmation = words(client.get(SELECTION, query_string={"facture": [late, on_time]}))
    assert "Proposée au premier jour ouvré possible, le " in confirmation
    assert f"Cette date est après l'échéance du {date_fr(due)} : le fournisseur sera payé en retard." in confirmation
    assert confirmation.count("payé en retard") == 1 and "est passée" not in confirmation
