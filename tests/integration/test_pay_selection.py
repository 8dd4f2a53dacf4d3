"""« Payer la sélection » in MEG's « Règlements », both apps over HTTP.

Each invoice of the selection is its own payment: its own attempt, key and
body recorded before the one round trip to Libeo, its own answer shown on
the result page and in every list. Double clicks, concurrent tabs and bad
input pay nothing twice and record nothing half-way.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.calendar import default_execution_date, next_business_day
from core.dates import date_fr, paris_today
from core.money import format_amount
from models.meg import SupplierInvoice
from models.meg import db as meg_db
from models.meg.libeo_link.attempts import PaymentAttempt
from tests.conftest import MegAuth
from tests.factories import meg_company, meg_invoice, meg_supplier
from tests.helpers import page, shown, words

from .conftest import libeo_back, libeo_down, libeo_payments, meg_libeo_invoices

SELECTION = "/meg/achats/reglements/selection"


def add_invoices(meg_app, count: int, company_name: str = "Boulangerie Martin SARL") -> None:
    """More « Virement par Libeo » invoices for the company, to Minoterie Dupuis, due in three weeks."""
    with meg_app.app_context():
        company = meg_company(company_name)
        supplier = meg_supplier(company)
        for n in range(count):
            meg_invoice(company, supplier, f"SEL-{n + 1:03d}", amount_cents=10_000 + n,
                        due_date=paris_today() + timedelta(days=21 + n))
        meg_db.session.commit()


def attempts(meg_app) -> int:
    with meg_app.app_context():
        return meg_db.session.scalar(select(func.count(PaymentAttempt.id)))


def _form(ids, **dates) -> dict:
    return {"facture": [str(i) for i in ids], **dates}


def test_a_selection_within_the_plan_is_scheduled_invoice_by_invoice(connected, client, meg_app, libeo_app):
    ids = [row[0] for row in meg_libeo_invoices(meg_app)]
    settlements = page(client.get("/meg/achats/reglements"))
    assert "Payer la sélection" in settlements and "Tout sélectionner" in settlements
    assert settlements.count('name="facture"') == 4  # the four « Virement par Libeo » invoices
    assert "Non sélectionnable : mode de règlement « Chèque »" in settlements

    confirmation = page(client.get(SELECTION, query_string=_form(ids)))
    assert "Confirmer les 4 paiements" in confirmation
    assert "Total par date d'exécution" in confirmation
    assert "ne sera pas payée" not in confirmation  # five a month on Gratuit: four fit

    result = client.post(f"{SELECTION}/confirmer", data=_form(ids))
    assert result.status_code == 302
    shown = page(client.get(result.headers["Location"]))
    assert "4 factures : 4 programmées" in shown
    assert shown.count("Programmé le") == 4
    assert [p["status"] for p in libeo_payments(libeo_app)] == ["scheduled"] * 4
    # Every list says the same.
    assert page(client.get("/meg/achats/reglements")).count("Programmé le") == 4


def test_a_selection_of_one_invoice_says_confirmer_le_paiement(connected, client, meg_app):
    """Not « Confirmer les 1 paiement »."""
    invoice_id = meg_libeo_invoices(meg_app)[0][0]
    confirmation = page(client.get(SELECTION, query_string=_form([invoice_id])))
    assert ">Confirmer le paiement</button>" in confirmation and "Confirmer les 1" not in confirmation
    assert "pour toutes" not in confirmation and "le refus de l'une" not in confirmation  # there is but one


def test_a_quota_covering_part_of_the_selection_is_said_before_and_after(connected, client, meg_app, libeo_app):
    add_invoices(meg_app, 3)
    ids = [row[0] for row in meg_libeo_invoices(meg_app)]
    assert len(ids) == 7
    confirmation = page(client.get(SELECTION, query_string=_form(ids)))
    assert ("Il vous reste 5 paiements ce mois-ci sur la formule Gratuit : 2 factures ne seront pas payées"
            in confirmation)
    assert "Abonnement" in confirmation
    shown = page(client.post(f"{SELECTION}/confirmer", data=_form(ids), follow_redirects=True))
    assert "7 factures : 5 programmées" in shown and "2 refusées" in shown
    assert shown.count("Non payée — limite de la formule atteinte") == 2
    assert shown.count("Passez à la formule Partnerships dans Libeo") == 2
    assert len(libeo_payments(libeo_app)) == 5
    # MEG now knows the month is used up: a new selection says so, and offers no button that can only fail.
    again = page(client.get(SELECTION, query_string=_form(ids)))
    # The two refused, none payable this month; the five paid are listed as left aside.
    assert "2 factures sélectionnées, aucune à payer ce mois-ci." in again
    assert "Votre formule Gratuit ne permet plus de paiement ce mois-ci" in again
    assert "Confirmer les" not in again


def test_one_invoice_left_out_by_the_plan_is_said_in_the_singular(connected, client, meg_app):
    add_invoices(meg_app, 2)
    ids = [row[0] for row in meg_libeo_invoices(meg_app)]
    assert len(ids) == 6
    confirmation = words(client.get(SELECTION, query_string=_form(ids)))
    assert ("Il vous reste 5 paiements ce mois-ci sur la formule Gratuit : 1 facture ne sera pas payée "
            "(la dernière de la liste)." in confirmation)


def test_the_button_and_the_totals_count_only_what_the_plan_will_pay(connected, client, meg_app):
    add_invoices(meg_app, 2)
    day = next_business_day(paris_today() + timedelta(days=40))
    with meg_app.app_context():
        invoices = sorted(meg_db.session.scalars(select(SupplierInvoice).where(
            SupplierInvoice.id.in_([row[0] for row in meg_libeo_invoices(meg_app)]))),
            key=lambda invoice: (invoice.due_date, invoice.id))
        ids = [invoice.id for invoice in invoices]
        paid = " ".join(format_amount(sum(invoice.amount_cents for invoice in invoices[:5])).split())
    confirmation = words(client.get(SELECTION, query_string=_form(ids, date_all=day.isoformat())))
    assert "1 facture ne sera pas payée" in confirmation
    assert ">Confirmer les 5 paiements</button>" in confirmation and "Confirmer les 6" not in confirmation
    assert f"Le {date_fr(day)} : 5 virements, {paid}" in confirmation
    # The lead line counts the same, and says what it leaves out.
    assert (f"5 factures à payer — {paid}. Non comptée : 1 facture au-delà de votre formule. Chaque facture est un "
            "paiement à part") in confirmation


def test_the_lead_line_leaves_out_what_will_not_be_paid_and_says_so(connected, client, meg_app):
    libeo = meg_libeo_invoices(meg_app)
    with meg_app.app_context():
        cheque = meg_db.session.scalar(select(SupplierInvoice).where(SupplierInvoice.number == "F-BM-2026-006"))
        cheque_id = cheque.id
    (first_id, _, first_cents), (second_id, _, second_cents) = libeo[:2]
    confirmation = shown(client.get(SELECTION, query_string=_form([first_id, second_id, cheque_id])))
    total = " ".join(format_amount(first_cents + second_cents).split())
    assert (f"2 factures à payer — {total}. Non comptée : 1 facture laissée de côté (ci-dessous)."
            in confirmation)
    assert "Ces factures sont laissées de côté : Facture F-BM-2026-006 : mode de règlement « Chèque »" in confirmation
    assert "Confirmer les 2 paiements" in confirmation


def test_each_row_keeps_its_date_or_takes_the_one_for_all(connected, client, meg_app, libeo_app):
    ids = [row[0] for row in meg_libeo_invoices(meg_app)][:2]
    later = next_business_day(paris_today() + timedelta(days=40))
    shown = page(client.post(f"{SELECTION}/confirmer", data=_form(ids, **{f"date-{ids[0]}": later.isoformat()}),
                             follow_redirects=True))
    assert f"Programmé le {date_fr(later)}" in shown
    with meg_app.app_context():
        second = meg_db.session.get(SupplierInvoice, ids[1])
        assert f"Programmé le {date_fr(default_execution_date(second.due_date, paris_today()))}" in shown


def test_the_same_selection_confirmed_twice_at_once_and_from_another_tab_pays_once(
        connected, apps, client, meg_app, libeo_app):
    add_invoices(meg_app, 1)  # five invoices: the five payments of the Gratuit plan
    ids = [row[0] for row in meg_libeo_invoices(meg_app)]
    clients = [apps.root.test_client() for _ in range(4)]
    for c in clients:
        MegAuth(c).login()
    selections = [ids, ids, ids[2:], ids[:3]]  # twice the same, and two overlapping tabs
    statuses, barrier = [], threading.Barrier(len(clients))

    def confirm(c, chosen):
        barrier.wait()
        statuses.append(c.post(f"{SELECTION}/confirmer", data=_form(chosen)).status_code)

    threads = [threading.Thread(target=confirm, args=pair) for pair in zip(clients, selections, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert statuses == [302] * 4
    payments = libeo_payments(libeo_app)
    assert len(payments) == 5 and len({p["invoice_id"] for p in payments}) == 5
    assert attempts(meg_app) == 5
    # A refresh of the confirmation sends nothing again.
    again = page(client.post(f"{SELECTION}/confirmer", data=_form(ids), follow_redirects=True))
    assert again.count("Programmé le") == 5 and len(libeo_payments(libeo_app)) == 5


@pytest.mark.parametrize("form, message", [
    ({}, "Aucune facture sélectionnée"),
    ({"facture": ["abc"]}, "La sélection contient une facture inconnue"),
    ({"facture": [str(n) for n in range(1, 10_001)]}, "Une sélection compte au plus 200 factures"),
    ({"facture": ["²"]}, "La sélection contient une facture inconnue"),  # a digit to str.isdigit, not to int
    ({"facture": ["١"]}, "La sélection contient une facture inconnue"),
    ({"facture": [str(2**31)]}, "La sélection contient une facture inconnue"),  # beyond an INTEGER column
    ({"facture": ["0"]}, "La sélection contient une facture inconnue"),
])
def test_bad_selections_are_refused_whole(connected, client, meg_app, libeo_app, form, message):
    assert message in page(client.get(SELECTION, query_string=form, follow_redirects=True))
    assert message in page(client.post(f"{SELECTION}/confirmer", data=form, follow_redirects=True))
    assert attempts(meg_app) == 0 and libeo_payments(libeo_app) == []


@pytest.mark.parametrize("factures", ["²", "١", str(2**31), "1,²"])
def test_a_result_page_of_unknown_invoices_is_refused_in_french(connected, client, factures):
    shown = page(client.get(f"{SELECTION}/resultat", query_string={"factures": factures}, follow_redirects=True))
    assert "La sélection contient une facture inconnue : rien n'a été payé." in shown


def test_a_selection_of_tens_of_thousands_of_invoices_is_refused_at_once(connected, client, meg_app, libeo_app):
    """A forged form may tick any number of boxes (near 1 Mo of them): refused as soon as one too many is
    read, without going through the others (the value at the end, which would be refused on its own, is never
    read)."""
    form = {"facture": [*(str(n) for n in range(1, 60_001)), "²"]}
    shown = page(client.post(f"{SELECTION}/confirmer", data=form, follow_redirects=True))
    assert "Une sélection compte au plus 200 factures (plus de 200 cochées) : payez-les en plusieurs fois." in shown
    assert attempts(meg_app) == 0 and libeo_payments(libeo_app) == []


def test_an_invoice_of_another_company_refuses_the_whole_selection(connected, client, meg_app, libeo_app):
    ids = [row[0] for row in meg_libeo_invoices(meg_app)]
    garage = [row[0] for row in meg_libeo_invoices(meg_app, "Garage Leroy SAS")]
    shown = page(client.post(f"{SELECTION}/confirmer", data=_form(ids + garage[:1]), follow_redirects=True))
    assert "La sélection contient une facture introuvable dans cette entreprise : rien n'a été payé" in shown
    assert attempts(meg_app) == 0 and libeo_payments(libeo_app) == []


@pytest.mark.parametrize("typed, message", [
    ("2026-02-30", "n'est pas une date"),
    ("2020-01-06", "la date d'exécution du 06/01/2020 est passée"),
    ((paris_today() + timedelta(days=800)).isoformat(), "est à plus d'un an"),
])
def test_a_tampered_date_refuses_the_whole_selection(connected, client, meg_app, libeo_app, typed, message):
    ids = [row[0] for row in meg_libeo_invoices(meg_app)]
    shown = page(client.post(f"{SELECTION}/confirmer", data=_form(ids, **{f"date-{ids[1]}": typed}),
                             follow_redirects=True))
    assert message in shown and "Rien n'a été payé" in shown or "rien n'a été payé" in shown
    assert attempts(meg_app) == 0 and libeo_payments(libeo_app) == []


def test_an_invoice_paid_meanwhile_is_told_not_paid_twice(connected, client, meg_app, libeo_app):
    ids = [row[0] for row in meg_libeo_invoices(meg_app)]
    confirmation = page(client.get(SELECTION, query_string=_form(ids)))
    assert "Confirmer les 4 paiements" in confirmation
    # Another tab pays the first one alone before this confirmation is sent.
    client.post(f"/meg/achats/factures/{ids[0]}/payer")
    shown = page(client.post(f"{SELECTION}/confirmer", data=_form(ids), follow_redirects=True))
    assert "4 factures : 4 programmées" in shown
    assert len(libeo_payments(libeo_app)) == 4
    again = page(client.get(SELECTION, query_string=_form(ids[:1]), follow_redirects=True))
    assert "un paiement de cette facture est déjà en cours : Programmé le" in again


def test_libeo_unreachable_pays_nothing_and_forgets_the_selection(connected, client, apps, meg_app, libeo_app):
    ids = [row[0] for row in meg_libeo_invoices(meg_app)]
    saved = libeo_down(apps)
    shown = page(client.post(f"{SELECTION}/confirmer", data=_form(ids), follow_redirects=True))
    assert "la demande n'a pas pu lui être envoyée" in shown and "Rien n'a été payé" in shown
    assert attempts(meg_app) == 0
    libeo_back(apps, saved)
    shown = page(client.post(f"{SELECTION}/confirmer", data=_form(ids), follow_redirects=True))
    assert "4 factures : 4 programmées" in shown and len(libeo_payments(libeo_app)) == 4


def test_a_user_without_the_right_to_pay_is_refused(connected, client, meg_auth, meg_app, libeo_app):
    ids = [row[0] for row in meg_libeo_invoices(meg_app)]
    meg_auth.logout()
    meg_auth.login("expert@cabinet-durand.fr")
    shown = page(client.post(f"{SELECTION}/confirmer", data=_form(ids), follow_redirects=True))
    assert "rien n'a été payé" in shown.lower() or "expert-comptable" in shown
    assert libeo_payments(libeo_app) == []


def test_a_selection_of_two_hundred_invoices_is_paid_in_one_confirmation(connected, client, meg_app, libeo_app):
    """The largest selection a form takes is paid by one « Confirmer »: every invoice scheduled, each told.

    How long it takes is the benchmark's to measure (« Payer la sélection »); that its statements do not grow
    with its size is guarded by tests/test_query_counts.py."""
    from models.libeo import db as libeo_db
    from models.libeo.accounts.models import Account, Plan

    with libeo_app.app_context():
        libeo_db.session.get(Account, connected["account_id"]).plan = Plan.PARTNERSHIPS
        libeo_db.session.commit()
    client.post("/meg/achats/options/libeo/verifier")  # « Vérifier la connexion »: MEG hears of the plan
    add_invoices(meg_app, 196)
    ids = [row[0] for row in meg_libeo_invoices(meg_app)]
    assert len(ids) == 200
    assert "Confirmer les 200 paiements" in page(client.get(SELECTION, query_string=_form(ids)))
    answer = client.post(f"{SELECTION}/confirmer", data=_form(ids))
    assert answer.status_code == 302
    assert "200 factures : 200 programmées" in page(client.get(answer.headers["Location"]))
    assert len(libeo_payments(libeo_app)) == 200


def test_a_newer_state_recorded_meanwhile_is_kept_and_the_other_answers_recorded(
        connected, client, meg_app, libeo_app, monkeypatch):
    """The events feed may record a payment's newer state between Libeo's answer and MEG's recording of it:
    that state stays (never moved back to the answer's), and every other answer of the selection is recorded."""
    from models.meg.libeo_link.attempts import refresh_invoice_states
    from models.meg.libeo_link.client import LibeoClient

    ids = [row[0] for row in meg_libeo_invoices(meg_app)][:3]
    create_payments = LibeoClient.create_payments

    def answered_then_overtaken(self, items):
        outcomes = create_payments(self, items)
        with meg_app.app_context():  # the feed's own transaction, committed first
            meg_db.session.execute(
                PaymentAttempt.__table__.update().where(PaymentAttempt.invoice_id == ids[1])
                .values(libeo_payment_id=str(outcomes[1].id), libeo_version=7, status="CANCELLED",
                        cancel_reason="Annulé dans Libeo."))
            refresh_invoice_states([ids[1]])  # as the feed's ``record`` stores the invoice's state with it
            meg_db.session.commit()
        return outcomes

    monkeypatch.setattr(LibeoClient, "create_payments", answered_then_overtaken)
    assert client.post(f"{SELECTION}/confirmer", data=_form(ids)).status_code == 302
    with meg_app.app_context():
        recorded = {a.invoice_id: (a.status.name, a.libeo_version) for a in meg_db.session.scalars(
            select(PaymentAttempt).where(PaymentAttempt.invoice_id.in_(ids)))}
    assert recorded == {ids[0]: ("SCHEDULED", 1), ids[1]: ("CANCELLED", 7), ids[2]: ("SCHEDULED", 1)}


def test_a_past_due_invoice_of_the_selection_says_as_payer_does_that_it_will_be_paid_late(
        connected, client, meg_app):
    (late_id, *_), (on_time_id, *_) = meg_libeo_invoices(meg_app)[:2]
    due = paris_today() - timedelta(days=10)
    with meg_app.app_context():
        invoice = meg_db.session.get(SupplierInvoice, late_id)
        invoice.issue_date, invoice.due_date = min(invoice.issue_date, due), due
        meg_db.session.commit()
    late = f"Cette date est après l'échéance du {date_fr(due)} : le fournisseur sera payé en retard."
    confirmation = words(client.get(SELECTION, query_string=_form([late_id, on_time_id])))
    assert late in confirmation and confirmation.count("payé en retard") == 1
    assert late in words(client.get(f"/meg/achats/reglements?payer={late_id}"))
