"""Libeo's safeguards over HTTP: holds, « À approuver », rules, « Journal », verification.

Payments come through the API (as MEG sends them) and Libeo's own « Payer »;
administrators decide in « À approuver ». Every assertion reads what a
person or MEG would read: the API's JSON, the pages, the command's output.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core.calendar import earliest_execution_date
from core.dates import paris_today
from models.libeo import Account, Payment, PaymentStatus, Plan, db
from models.libeo.payments.safeguards import names_match, supplier_key
from tests.factories import libeo_user
from tests.helpers import text

from .conftest import (
    DEBTOR_IBAN,
    PASSWORD,
    SUPPLIER_IBAN,
    Api,
    invoice_body,
    make_account,
    make_key,
    pay_body,
    valid_iban,
)


def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    return {"DAY": earliest_execution_date(paris_today())}


(DAY,) = dated_constants().values()
OTHER_IBAN = valid_iban(7_777_001)  # same bank (Crédit Agricole), another account
BNP_IBAN = "FR7630004008220000001583859"


def supplier(name: str = "Minoterie Dupuis", iban: str = SUPPLIER_IBAN) -> dict:
    return {"name": name, "iban": iban}


def pay(api: Api, external_id: str, *, role: str = "user", email: str = "compta@entreprise.fr", **invoice):
    """MEG's « Payer »: the invoice and the request in one call."""
    body = pay_body(email=email, role=role, execution_date=DAY.isoformat(), invoice=invoice_body(**invoice))
    return api.pay(external_id, key=f"idem-{external_id}", body=body)


@pytest.fixture
def admin(libeo_app, client, libeo_auth):
    """A verified Partnerships account (no quota in the way), its API, its administrator signed in."""
    info = make_account(libeo_app, name="Boulangerie Martin SARL", plan=Plan.PARTNERSHIPS, debtor_iban=DEBTOR_IBAN,
                        accountant="expert@cabinet-durand.fr")
    libeo_auth.login(info.email)
    info.api = Api(client, make_key(libeo_app, info.id))
    return info


def plain(value):
    """French typography's no-break spaces as plain spaces, in a string or a list of them."""
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value.replace("\u202f", " ").replace("\u00a0", " ")


def held(response) -> dict:
    assert response.status_code == 201, response.json
    payment = dict(response.json)
    payment["hold_details"] = plain(payment["hold_details"])
    assert payment["status"] == "awaiting_approval", payment
    assert payment["status_label"] == "À approuver"
    return payment


def scheduled(response) -> dict:
    assert response.status_code == 201, response.json
    assert response.json["status"] == "scheduled", response.json
    assert response.json["hold_reasons"] == [] and response.json["hold_details"] == []
    return response.json


# --- new_iban ------------------------------------------------------------------------------------


def test_a_first_payment_to_a_supplier_is_not_held(admin):
    scheduled(pay(admin.api, "meg-1", n=1, supplier=supplier()))


def test_a_supplier_paid_before_to_another_iban_is_held_naming_the_previous_iban(admin):
    scheduled(pay(admin.api, "meg-1", n=1, supplier=supplier(iban=SUPPLIER_IBAN)))
    payment = held(pay(admin.api, "meg-2", n=2, supplier=supplier(iban=BNP_IBAN)))

    assert payment["hold_reasons"] == ["new_iban"]
    [detail] = payment["hold_details"]
    assert detail.startswith("Nouvel IBAN pour Minoterie Dupuis : FR76 •••• •••• •••• •••• ••83 859 (BNP PARIBAS).")
    assert "payé jusqu'ici sur l'IBAN FR76 •••• •••• •••• •••• ••56 723 (CREDIT AGRICOLE SA)" in detail
    assert BNP_IBAN not in detail and SUPPLIER_IBAN not in detail  # masked: the feed reaches MEG


def test_a_renamed_supplier_with_a_new_iban_is_still_held(admin):
    scheduled(pay(admin.api, "meg-1", n=1, supplier=supplier("Minoterie Dupuis")))
    payment = held(pay(admin.api, "meg-2", n=2, supplier=supplier("MINOTERIE DUPUIS SARL", OTHER_IBAN)))
    assert payment["hold_reasons"] == ["new_iban"]


def test_a_new_iban_is_held_however_many_suppliers_share_a_word_with_this_one(admin, libeo_app):
    """The checks read at most 200 known IBANs: the supplier's own come first, not the latest 200."""
    from core.dates import utcnow
    from models.libeo.payments.safeguards import KnownSupplierIban

    scheduled(pay(admin.api, "meg-1", n=1, supplier=supplier(iban=SUPPLIER_IBAN)))
    later = utcnow() + timedelta(minutes=1)
    with libeo_app.app_context():  # 210 suppliers paid since, all « Minoterie … » (as many « … France »)
        db.session.add_all(
            KnownSupplierIban(account_id=admin.id, supplier_key=supplier_key(f"Minoterie Moulin{k}"),
                              supplier_name=f"Minoterie Moulin{k}", iban=valid_iban(8_000_000 + k),
                              recorded_at=later + timedelta(seconds=k), recorded_by="premier paiement")
            for k in range(210)
        )
        db.session.commit()

    payment = held(pay(admin.api, "meg-2", n=2, supplier=supplier(iban=BNP_IBAN)))
    assert payment["hold_reasons"] == ["new_iban"]
    assert ("payé jusqu'ici sur l'IBAN FR76 •••• •••• •••• •••• ••56 723 (CREDIT AGRICOLE SA)"
            in payment["hold_details"][0])


def test_approving_a_new_iban_makes_it_the_suppliers(admin, client):
    scheduled(pay(admin.api, "meg-1", n=1))
    payment = held(pay(admin.api, "meg-2", n=2, supplier=supplier(iban=OTHER_IBAN)))
    assert client.post(f"/libeo/a-approuver/{payment['id']}/approuver").status_code == 302

    scheduled(pay(admin.api, "meg-3", n=3, supplier=supplier(iban=OTHER_IBAN)))
    scheduled(pay(admin.api, "meg-4", n=4, supplier=supplier(iban=SUPPLIER_IBAN)))  # the first stays known


def test_a_refused_new_iban_is_not_learnt(admin, client):
    scheduled(pay(admin.api, "meg-1", n=1))
    payment = held(pay(admin.api, "meg-2", n=2, supplier=supplier(iban=OTHER_IBAN)))
    client.post(f"/libeo/a-approuver/{payment['id']}/refuser", data={"reason": "RIB frauduleux"})
    assert held(pay(admin.api, "meg-3", n=3, supplier=supplier(iban=OTHER_IBAN)))["hold_reasons"] == ["new_iban"]


# --- payee_name_mismatch -----------------------------------------------------------------------


def test_an_iban_paid_under_a_clearly_different_name_is_held(admin):
    scheduled(pay(admin.api, "meg-1", n=1, supplier=supplier("Laiterie des Prés", SUPPLIER_IBAN)))
    payment = held(pay(admin.api, "meg-2", n=2, supplier=supplier("Transports Garnier", SUPPLIER_IBAN)))
    assert payment["hold_reasons"] == ["payee_name_mismatch"]
    assert "a déjà été payé au nom de « Laiterie des Prés », et non de « Transports Garnier »" in (
        payment["hold_details"][0])


def test_the_same_name_written_otherwise_is_not_held(admin):
    scheduled(pay(admin.api, "meg-1", n=1, supplier=supplier("Laiterie des Prés", SUPPLIER_IBAN)))
    scheduled(pay(admin.api, "meg-2", n=2, supplier=supplier("LAITERIE DES PRES SARL", SUPPLIER_IBAN)))


@pytest.mark.parametrize("first, second, alike", [
    ("Minoterie Dupuis", "Minoterie Dupuis SARL", True),
    ("Minoterie Dupuis", "minoterie  dupuis", True),
    ("Laiterie des Prés", "LAITERIE DES PRES", True),
    ("Minoterie Dupuis", "Dupuis", True),
    ("Minoterie Dupuis", "Minoteries Dupuis", True),  # a typo
    ("Dupuis Minoterie", "Minoterie Dupuis", True),
    ("Minoterie Dupuis", "Minoterie Dupont", False),
    ("Transports Martin", "Transports Morin", False),
    ("Fournisseur A", "Fournisseur B", False),
    ("E.D.F.", "EDF", True),
    ("Laiterie des Prés", "Transports Garnier", False),
    ("EDF Entreprises", "Engie Pro", False),
])
def test_names_are_compared_without_accents_case_and_legal_forms(first, second, alike):
    assert names_match(first, second) is alike
    assert names_match(second, first) is alike


def test_supplier_key_strips_legal_forms_accents_and_articles():
    # Keys are skeletons: « i » and « l » are one letter (the capital « I » reads as « l »).
    assert supplier_key("Laiterie des Prés SARL") == supplier_key("laiterie DES pres") == "lalterle pres"
    assert supplier_key("Établissements Roux & Fils") == "roux flls"
    # A name spelt letter by letter is one word.
    assert supplier_key("E.D.F.") == supplier_key("EDF") == supplier_key("e d f SA") == "edf"


# --- duplicate_suspected -----------------------------------------------------------------------


def test_a_second_invoice_with_the_same_supplier_and_number_is_held_naming_the_first(admin):
    scheduled(pay(admin.api, "meg-1", n=1, number="F-2026-001"))
    payment = held(pay(admin.api, "meg-2", n=2, number="F-2026-001"))
    assert payment["hold_reasons"] == ["duplicate_suspected"]
    [detail] = payment["hold_details"]
    assert detail.startswith("Doublon possible : la facture F-2026-001 de Minoterie Dupuis (486,51 €, du 01/10/2026) "
                             "porte le même numéro")
    assert f"son paiement : Programmé le {DAY:%d/%m/%Y}" in detail


def test_the_same_number_written_otherwise_is_a_duplicate(admin):
    scheduled(pay(admin.api, "meg-1", n=1, number="F-2026-001"))
    assert held(pay(admin.api, "meg-2", n=2, number="f 2026 001"))["hold_reasons"] == ["duplicate_suspected"]


@pytest.mark.parametrize("days, is_duplicate", [(0, True), (7, True), (-7, True), (8, False), (-8, False)])
def test_the_same_amount_within_seven_days_is_a_duplicate(admin, days, is_duplicate):
    issue = date(2026, 10, 10)
    scheduled(pay(admin.api, "meg-1", number="A-1", amount_cents=99_900, issue_date=issue.isoformat(),
                  due_date="2026-12-31"))
    other = (issue + timedelta(days=days)).isoformat()
    response = pay(admin.api, "meg-2", number="B-2", amount_cents=99_900, issue_date=other, due_date="2026-12-31")
    if is_duplicate:
        payment = held(response)
        assert payment["hold_reasons"] == ["duplicate_suspected"]
        assert "la facture A-1 de Minoterie Dupuis (999,00 €, du 10/10/2026)" in payment["hold_details"][0]
    else:
        scheduled(response)


def test_the_same_amount_at_another_supplier_is_not_a_duplicate(admin):
    scheduled(pay(admin.api, "meg-1", n=1, amount_cents=12_000, supplier=supplier("Minoterie Dupuis")))
    scheduled(pay(admin.api, "meg-2", n=2, amount_cents=12_000, supplier=supplier("Laiterie des Prés", OTHER_IBAN)))


def test_a_cancelled_payment_is_no_duplicate(admin, client):
    first = scheduled(pay(admin.api, "meg-1", n=1, number="F-1"))
    client.post(f"/libeo/paiements/{first['id']}/annuler")
    scheduled(pay(admin.api, "meg-2", n=2, number="F-1"))


def test_a_duplicate_entered_in_libeos_own_form_is_held_too(admin, client):
    scheduled(pay(admin.api, "meg-1", n=1, number="F-2026-001"))
    created = client.post("/libeo/factures/nouvelle", data={
        "number": "F-2026-001", "supplier_name": "Minoterie Dupuis", "supplier_iban": SUPPLIER_IBAN,
        "supplier_bic": "", "issue_date": "2026-10-01", "due_date": "2026-10-31", "amount": "486,51"})
    invoice_id = int(created.headers["Location"].rsplit("/", 1)[1])
    page = text(client.post(f"/libeo/factures/{invoice_id}/payer", data={"execution_date": DAY.isoformat()},
                            follow_redirects=True))
    assert "est retenu pour approbation (doublon possible)" in page
    assert "Doublon possible : la facture F-2026-001 de Minoterie Dupuis" in page
    with admin_db(client) as session:
        payment = session.scalar(select(Payment).where(Payment.invoice_id == invoice_id))
        assert (payment.status, payment.channel.value) == (PaymentStatus.AWAITING_APPROVAL, "Libeo")


class admin_db:  # noqa: N801 - read as a function in `with admin_db(client)`
    """The Libeo database, read as a test (never a view)."""

    def __init__(self, client) -> None:
        self.app = client.application.extensions["sides"]["libeo"]

    def __enter__(self):
        self.context = self.app.app_context()
        self.context.push()
        return db.session

    def __exit__(self, *exc):
        db.session.remove()
        self.context.pop()


# --- approval_rule -------------------------------------------------------------------------------


def test_the_threshold_rule_holds_1000_01_and_not_1000_00(admin, client):
    saved = client.post("/libeo/configuration/approbations", data={"threshold": "1 000"}, follow_redirects=True)
    assert "Les règles d'approbation sont enregistrées" in text(saved)
    assert 'value="1000,00"' in text(client.get("/libeo/configuration/approbations"))

    scheduled(pay(admin.api, "meg-1", number="A", amount_cents=100_000, supplier=supplier("Fournisseur A")))
    payment = held(pay(admin.api, "meg-2", number="B", amount_cents=100_001, supplier=supplier("Fournisseur B",
                                                                                              OTHER_IBAN)))
    assert payment["hold_reasons"] == ["approval_rule"]
    assert payment["hold_details"] == [
        "Montant de 1 000,01 €, au-delà de 1 000,00 € : la règle du compte demande qu'un administrateur "
        "approuve ce paiement."
    ]


def test_the_threshold_rule_is_on_the_free_plan_too(libeo_app, client, libeo_auth):
    info = make_account(libeo_app)
    libeo_auth.login(info.email)
    client.post("/libeo/configuration/approbations", data={"threshold": "500"})
    api = Api(client, make_key(libeo_app, info.id))
    assert held(pay(api, "meg-1", n=1, amount_cents=50_001))["hold_reasons"] == ["approval_rule"]


def test_payments_by_the_accountant_are_held_when_the_rule_says_so(admin, client):
    client.post("/libeo/configuration/approbations", data={"threshold": "", "accountant_payments": "y"})
    payment = held(pay(admin.api, "meg-1", n=1, role="accountant", email="expert@cabinet-durand.fr"))
    assert payment["hold_reasons"] == ["approval_rule"]
    assert "Paiement initié par l'expert-comptable (expert@cabinet-durand.fr)" in payment["hold_details"][0]
    scheduled(pay(admin.api, "meg-2", n=2, supplier=supplier("Autre fournisseur", OTHER_IBAN)))  # the user's


def test_several_reasons_are_all_given(admin, client):
    client.post("/libeo/configuration/approbations", data={"threshold": "100"})
    scheduled(pay(admin.api, "meg-1", n=1, number="F-9", amount_cents=5_000))
    payment = held(pay(admin.api, "meg-2", n=2, number="F-9", amount_cents=20_000, supplier=supplier(iban=OTHER_IBAN)))
    assert payment["hold_reasons"] == ["new_iban", "duplicate_suspected", "approval_rule"]
    assert len(payment["hold_details"]) == 3


@pytest.mark.parametrize("threshold, message", [
    ("-5", "Le montant doit être supérieur à zéro."), ("mille", "Montant invalide"), ("1,234", "Montant invalide"),
])
def test_a_bad_threshold_is_refused_in_french(admin, client, threshold, message):
    page = client.post("/libeo/configuration/approbations", data={"threshold": threshold})
    assert page.status_code == 200 and message in text(page)
    with admin_db(client) as session:
        assert session.get(Account, admin.id).approval_threshold_cents is None


# --- « À approuver » -------------------------------------------------------------------------------


def test_a_held_payment_waits_in_a_approuver_with_a_counter_in_the_header(admin, client):
    scheduled(pay(admin.api, "meg-1", n=1))
    held(pay(admin.api, "meg-2", n=2, supplier=supplier(iban=OTHER_IBAN)))
    held(pay(admin.api, "meg-3", n=3, number="F-2026-001"))

    page = text(client.get("/libeo/factures/"))
    assert 'aria-label="2 paiements à approuver">2</span>' in page
    waiting = text(client.get("/libeo/a-approuver/"))
    assert "Retenu : nouvel IBAN du fournisseur" in waiting and "Retenu : doublon possible" in waiting
    assert "CREDIT AGRICOLE SA" in waiting and "AGRIFRPP" in waiting  # bank name, BIC given
    assert waiting.count(">Approuver</button>") == 2
    # The counter follows each decision, on the page the decision leads to and on every other.
    payment_id = held(pay(admin.api, "meg-4", n=4, number="F-2026-001"))["id"]
    assert 'aria-label="3 paiements à approuver">3</span>' in text(client.get("/libeo/paiements/"))
    after = text(client.post(f"/libeo/a-approuver/{payment_id}/approuver", follow_redirects=True))
    assert 'aria-label="2 paiements à approuver">2</span>' in after
    assert 'aria-label="2 paiements à approuver">2</span>' in text(client.get("/libeo/journal/"))


def test_approve_schedules_the_payment_and_the_feed_says_so(admin, client):
    scheduled(pay(admin.api, "meg-1", n=1))
    payment = held(pay(admin.api, "meg-2", n=2, supplier=supplier(iban=OTHER_IBAN)))

    done = text(client.post(f"/libeo/a-approuver/{payment['id']}/approuver", follow_redirects=True))
    assert f"approuvé : Programmé le {DAY:%d/%m/%Y}" in done
    assert "Aucun paiement à approuver." in done
    now = admin.api.get(f"/payments/{payment['id']}").json
    assert (now["status"], now["hold_reasons"], now["cancel_reason"]) == ("scheduled", [], None)
    last = admin.api.get("/events").json["events"][-1]["data"]
    assert (last["id"], last["status"]) == (payment["id"], "scheduled")
    detail = text(client.get(f"/libeo/paiements/{payment['id']}"))
    assert "Approuvé le" in detail and f"par {admin.email}" in detail
    # The record of why, told as past: the payment is no longer held.
    assert "Avait été retenu : nouvel IBAN du fournisseur" in detail and "Retenu :" not in detail


def test_an_execution_date_gone_by_while_held_moves_to_the_next_business_day(admin, client, libeo_app):
    scheduled(pay(admin.api, "meg-1", n=1))
    payment = held(pay(admin.api, "meg-2", n=2, supplier=supplier(iban=OTHER_IBAN)))
    with libeo_app.app_context():
        db.session.get(Payment, payment["id"]).execution_date = date(2026, 1, 2)
        db.session.commit()
    client.post(f"/libeo/a-approuver/{payment['id']}/approuver")
    assert admin.api.get(f"/payments/{payment['id']}").json["execution_date"] == DAY.isoformat()


def test_refuse_cancels_with_the_reason_and_frees_the_invoice_and_the_quota(libeo_app, client, libeo_auth):
    info = make_account(libeo_app)  # Gratuit: 5 payments a month
    libeo_auth.login(info.email)
    api = Api(client, make_key(libeo_app, info.id))
    scheduled(pay(api, "meg-1", n=1))
    payment = held(pay(api, "meg-2", n=2, supplier=supplier(iban=OTHER_IBAN)))
    assert api.get("/me").json["payments_this_month"] == 2  # a held payment counts

    empty = client.post(f"/libeo/a-approuver/{payment['id']}/refuser", data={"reason": "  "}, follow_redirects=True)
    assert "Indiquez le motif du refus" in text(empty)
    assert api.get(f"/payments/{payment['id']}").json["status"] == "awaiting_approval"

    done = text(client.post(f"/libeo/a-approuver/{payment['id']}/refuser",
                            data={"reason": "RIB non confirmé par le fournisseur"}, follow_redirects=True))
    assert "refusé : il est annulé, la facture est de nouveau à payer" in done
    now = api.get(f"/payments/{payment['id']}").json
    assert (now["status"], now["status_label"], now["cancel_reason"]) == (
        "cancelled", "Annulé — approbation refusée : RIB non confirmé par le fournisseur",
        "RIB non confirmé par le fournisseur")
    assert api.get("/me").json["payments_this_month"] == 1
    # The invoice may be paid again (held again: the IBAN is still new).
    again = api.post("/invoices/meg-2/payments", json=pay_body(execution_date=DAY.isoformat()),
                     headers={"Idempotency-Key": "again"})
    assert held(again)["id"] != payment["id"]


def test_a_held_payment_holds_its_invoice(admin):
    scheduled(pay(admin.api, "meg-1", n=1))
    held(pay(admin.api, "meg-2", n=2, supplier=supplier(iban=OTHER_IBAN)))
    second = admin.api.post("/invoices/meg-2/payments", json=pay_body(), headers={"Idempotency-Key": "twice"})
    assert second.status_code == 409
    assert second.json["error"]["message"] == (
        "Un paiement de la facture F-2026-002 attend déjà l'approbation d'un administrateur.")
    # Nor can MEG change what is being approved.
    locked = admin.api.put_invoice("meg-2", n=2, supplier={"name": "Minoterie Dupuis", "iban": SUPPLIER_IBAN})
    assert locked.status_code == 409 and locked.json["error"]["code"] == "invoice_locked"


def test_a_held_payment_counts_in_the_free_quota(libeo_app, client):
    info = make_account(libeo_app)
    api = Api(client, make_key(libeo_app, info.id))
    scheduled(pay(api, "meg-0", n=0))
    held(pay(api, "meg-1", n=1, supplier=supplier(iban=OTHER_IBAN)))
    for n in range(2, 5):
        scheduled(pay(api, f"meg-{n}", n=n, supplier=supplier(f"Fournisseur {n}", valid_iban(900 + n))))
    sixth = pay(api, "meg-5", n=5, supplier=supplier("Fournisseur 5", valid_iban(905)))
    assert sixth.status_code == 402


def test_the_execution_never_takes_a_held_payment(admin, apps, libeo_app):
    scheduled(pay(admin.api, "meg-1", n=1))
    payment = held(pay(admin.api, "meg-2", n=2, supplier=supplier(iban=OTHER_IBAN)))
    result = apps.root.test_cli_runner().invoke(args=["libeo", "execute-payments", "--date",
                                                      (DAY + timedelta(days=30)).isoformat()])
    assert "1 virement(s)" in result.output
    assert admin.api.get(f"/payments/{payment['id']}").json["status"] == "awaiting_approval"


def test_deciding_twice_decides_once(admin, client):
    scheduled(pay(admin.api, "meg-1", n=1))
    payment = held(pay(admin.api, "meg-2", n=2, supplier=supplier(iban=OTHER_IBAN)))
    client.post(f"/libeo/a-approuver/{payment['id']}/approuver")
    late = text(client.post(f"/libeo/a-approuver/{payment['id']}/refuser", data={"reason": "trop tard"},
                            follow_redirects=True))
    assert "Ce paiement n'est plus à approuver (Programmé le" in late
    assert admin.api.get(f"/payments/{payment['id']}").json["status"] == "scheduled"


# --- who may decide --------------------------------------------------------------------------------


def _non_admin(libeo_app, account_id: int) -> str:
    """A user of the account who is not an administrator (the plans allow one user: made here directly)."""
    with libeo_app.app_context():
        libeo_user(account_id, "stagiaire@entreprise.fr")
        db.session.commit()
    return "stagiaire@entreprise.fr"


def test_a_non_administrator_another_account_and_the_api_key_cannot_decide(admin, apps, libeo_app, libeo_auth):
    scheduled(pay(admin.api, "meg-1", n=1))
    payment = held(pay(admin.api, "meg-2", n=2, supplier=supplier(iban=OTHER_IBAN)))
    pid = payment["id"]

    # The API key (MEG, or anyone holding it): there is no way to decide through the API.
    for path in (f"/payments/{pid}/approve", f"/payments/{pid}/approuver", f"/payments/{pid}"):
        assert admin.api.post(path, json={}).status_code in (404, 405)
    # Nor can a key open Libeo's pages (they need a signed-in administrator).
    key_only = apps.root.test_client()
    answer = key_only.post(f"/libeo/a-approuver/{pid}/approuver", headers={"Authorization": f"Bearer {admin.api.key}"})
    assert answer.status_code == 302 and "/libeo/connexion" in answer.headers["Location"]

    # A user of the account who is not an administrator.
    intern = apps.root.test_client()
    intern.post("/libeo/connexion", data={"email": _non_admin(libeo_app, admin.id), "password": PASSWORD})
    assert intern.get("/libeo/a-approuver/").status_code == 403
    refused = intern.post(f"/libeo/a-approuver/{pid}/approuver")
    assert refused.status_code == 403 and "réservée aux administrateurs" in text(refused)
    assert intern.post(f"/libeo/a-approuver/{pid}/refuser", data={"reason": "non"}).status_code == 403
    assert intern.get("/libeo/journal/").status_code == 403
    assert "/libeo/a-approuver/" not in text(intern.get("/libeo/factures/"))  # no link in the header
    assert "Ce paiement attend l'approbation d'un administrateur" in text(intern.get(f"/libeo/paiements/{pid}"))

    # Another account's administrator.
    other = make_account(libeo_app, name="Garage Leroy SAS")
    stranger = apps.root.test_client()
    stranger.post("/libeo/connexion", data={"email": other.email, "password": PASSWORD})
    assert stranger.post(f"/libeo/a-approuver/{pid}/approuver").status_code == 404
    assert stranger.post(f"/libeo/a-approuver/{pid}/refuser", data={"reason": "non"}).status_code == 404
    assert "Aucun paiement à approuver." in text(stranger.get("/libeo/a-approuver/"))

    assert admin.api.get(f"/payments/{pid}").json["status"] == "awaiting_approval"


# --- « Journal » -----------------------------------------------------------------------------------


def test_the_journal_tells_the_accounts_sensitive_events(admin, apps, client):
    client.post("/libeo/configuration/approbations", data={"threshold": "2 000"})
    client.post("/libeo/configuration/expert-comptable/retirer")
    client.post("/libeo/configuration/expert-comptable", data={"email": "nouvel.expert@cabinet.fr"})
    scheduled(pay(admin.api, "meg-1", n=1))
    approved = held(pay(admin.api, "meg-2", n=2, supplier=supplier(iban=OTHER_IBAN)))
    refused = held(pay(admin.api, "meg-3", n=3, number="F-2026-001"))
    cancelled = scheduled(pay(admin.api, "meg-4", n=4, supplier=supplier("Laiterie des Prés", valid_iban(4))))
    client.post(f"/libeo/a-approuver/{approved['id']}/approuver")
    client.post(f"/libeo/a-approuver/{refused['id']}/refuser", data={"reason": "Facture déjà réglée"})
    client.post(f"/libeo/paiements/{cancelled['id']}/annuler")
    client.post("/libeo/configuration/integrations/meg/revoquer")
    apps.root.test_cli_runner().invoke(args=["libeo", "set-plan", "--siret", admin.siret, "--plan", "gratuit"])

    page = text(client.get("/libeo/journal/"))
    expected = [
        "Compte créé pour Boulangerie Martin SARL",
        "Compte vérifié pour le SIRET",
        "Clé d'API MEG créée (lbo_meg_",
        "Règles d'approbation : au-delà de 2 000,00 €, un paiement doit être approuvé.",
        "Expert-comptable retiré : expert@cabinet-durand.fr.",
        "Expert-comptable ajouté : nouvel.expert@cabinet.fr.",
        "IBAN vu pour la première fois pour Minoterie Dupuis : FR76 •••• •••• •••• •••• ••56 723 (CREDIT AGRICOLE SA).",
        "Paiement de la facture F-2026-002 (486,52 € à Minoterie Dupuis) retenu pour approbation : Nouvel IBAN",
        "Nouvel IBAN enregistré pour Minoterie Dupuis",
        "Paiement de la facture F-2026-002 (486,52 € à Minoterie Dupuis) approuvé : programmé le",
        "Paiement de la facture F-2026-001 (486,53 € à Minoterie Dupuis) refusé : Facture déjà réglée",
        "Paiement de la facture F-2026-004 (486,54 € à Laiterie des Prés) annulé.",
        "Clé d'API MEG révoquée (lbo_meg_",
        "Formule changée : Partnerships → Gratuit.",
    ]
    for sentence in expected:
        assert sentence in page, sentence
    assert f"<td data-label=\"Par\">{admin.email}</td>" in page and "compta@entreprise.fr (via MEG)" in page
    assert "Support Libeo (ligne de commande)" in page
    # Newest first.
    assert page.index("Formule changée") < page.index("Compte créé pour")


# --- bank names ------------------------------------------------------------------------------------


def test_every_iban_in_libeo_shows_its_bank_and_a_derived_bic(admin, client):
    created = client.post("/libeo/factures/nouvelle", data={
        "number": "LP-1", "supplier_name": "Laiterie des Prés", "supplier_iban": BNP_IBAN, "supplier_bic": "",
        "issue_date": "2026-10-01", "due_date": "2026-10-31", "amount": "12,00"}, follow_redirects=True)
    page = text(created)
    assert "FR76 3000 4008 2200 0000 1583 859</span> — BNP PARIBAS" in page
    assert "BNPAFRPP (déduit de l'IBAN)" in page


# --- who owns the SIRET ----------------------------------------------------------------------------


def test_an_unverified_accounts_sepa_files_are_never_executed_until_verified(apps, libeo_app, client):
    info = make_account(libeo_app, debtor_iban=DEBTOR_IBAN, verified=False)
    api = Api(client, make_key(libeo_app, info.id))
    assert api.get("/me").json["verified"] is False
    scheduled(pay(api, "meg-1", n=1))
    runner = apps.root.test_cli_runner()
    output = runner.invoke(args=["libeo", "execute-payments", "--date", DAY.isoformat()]).output
    assert f"{info.name} : 1 paiement(s) en attente — compte non vérifié : aucun fichier SEPA" in output
    assert api.get("/payments/1").json["status"] == "scheduled"

    verified = runner.invoke(args=["libeo", "verify-account", "--siret", info.siret])
    assert verified.exit_code == 0 and f"{info.name} ({info.siret}) : compte vérifié." in verified.output
    assert api.get("/me").json["verified"] is True
    output = runner.invoke(args=["libeo", "execute-payments", "--date", DAY.isoformat()]).output
    assert "1 virement(s)" in output
    assert api.get("/payments/1").json["status"] == "file_ready"


def test_verify_account_refuses_an_unknown_siret_in_french(apps):
    result = apps.root.test_cli_runner().invoke(args=["libeo", "verify-account", "--siret", "83451234500002"])
    assert result.exit_code == 1 and "Erreur : Aucun compte Libeo n'a ce SIRET." in result.output


def test_an_unverified_account_is_told_why_its_payments_wait(libeo_app, client, libeo_auth):
    info = make_account(libeo_app, debtor_iban=DEBTOR_IBAN, verified=False)
    libeo_auth.login(info.email)
    for path in ("/libeo/configuration/", "/libeo/paiements/"):
        assert "Compte non vérifié : vos paiements restent « Programmé »" in text(client.get(path))
    assert "Non vérifié" in text(client.get("/libeo/configuration/"))


def test_an_invoice_meg_sent_but_never_paid_counts_in_no_figure_of_the_week(admin, client):  # noqa: F811
    """MEG sends an invoice it asked to pay once (the request refused), after an edit: Libeo keeps it out of
    « Factures », and « Cette semaine »'s « À payer d'ici dimanche » does not count it either."""
    assert admin.api.put("/invoices/meg-7", json=invoice_body(7)).status_code == 201
    invoices = " ".join(text(client.get("/libeo/factures/")).split())
    assert "F-2026-007" not in invoices
    assert "À payer d'ici dimanche 0,00 € aucune facture" in " ".join(
        re.sub(r"<[^>]+>", " ", invoices).split())
