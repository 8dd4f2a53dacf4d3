"""Libeo's safeguards seen from both products.

The combined app, both databases, MEG's client calling Libeo's API and
reading its events feed through the sync pass: the story a company lives
when a supplier's IBAN changes in MEG, when a SIRET was squatted in Libeo,
and what MEG's journal keeps of its connection.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.calendar import earliest_execution_date, next_business_day
from core.dates import paris_today
from models.libeo import Account, Payment, PaymentStatus
from models.libeo import db as libeo_db
from models.meg import Company, Supplier, SupplierInvoice
from models.meg import db as meg_db
from models.meg.libeo_link.sync import sync_pass
from tests.helpers import words as text
from tests.lists.conftest import read_csv, read_xlsx

from .conftest import GARAGE_SIRET, libeo_account
from .test_meg_connect import (
    GARAGE,
    GERANT,
    Browser,
    consent_and_come_back,
    create_account_form,
)

LIBEO_ADMIN = "claire@boulangerie-martin.fr"
LIBEO_PASSWORD = "mot-de-passe-solide-42"
NEW_IBAN = "FR7630004008220000001583859"  # BNP Paribas
def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    return {"DAY": next_business_day(paris_today() + timedelta(days=3))}


(DAY,) = dated_constants().values()


def shown(response) -> str:
    """What a person reads: the page's text without its tags."""
    return " ".join(re.sub(r"<[^>]+>", " ", text(response)).split())


def run_sync(meg_app):
    with meg_app.app_context():
        report = sync_pass()
        meg_db.session.remove()
        return report


def _minoterie(meg_app):
    with meg_app.app_context():
        supplier = meg_db.session.scalar(select(Supplier).join(Company).where(
            Supplier.name == "Minoterie Dupuis", Company.name == "Boulangerie Martin SARL"))
        invoice = meg_db.session.scalar(select(SupplierInvoice).where(
            SupplierInvoice.supplier_id == supplier.id, SupplierInvoice.payment_mode == "LIBEO"))
        return supplier.id, invoice.id


def _meg_pay(client, invoice_id: int):
    return client.post(f"/meg/achats/factures/{invoice_id}/payer",
                       data={"execution_date": DAY.isoformat()}, follow_redirects=True)


@pytest.fixture
def iban_changed_and_paid(connected, client, meg_app):
    """Minoterie Dupuis paid once to its IBAN, then its IBAN changed in MEG and a new invoice « Payer »."""
    supplier_id, first_invoice = _minoterie(meg_app)
    assert f"Paiement programmé le {DAY:%d/%m/%Y}" in text(_meg_pay(client, first_invoice))

    client.post(f"/meg/achats/fournisseurs/{supplier_id}/modifier",
                data={"name": "Minoterie Dupuis", "iban": NEW_IBAN, "bic": ""}, follow_redirects=True)
    created = client.post("/meg/achats/factures/nouvelle", follow_redirects=True, data={
        "number": "MD-2026-NOUVEL-IBAN", "supplier_id": supplier_id, "issue_date": paris_today().isoformat(),
        "due_date": (paris_today() + timedelta(days=30)).isoformat(), "amount": "1 850,00", "payment_mode": "LIBEO"})
    second_invoice = int(created.request.path.rsplit("/", 1)[1])

    asked = text(_meg_pay(client, second_invoice))
    assert "il attend l'approbation d'un administrateur dans Libeo" in asked
    run_sync(meg_app)
    return second_invoice


def _libeo_admin(apps):
    browser = apps.root.test_client()
    assert browser.post("/libeo/connexion", data={"email": LIBEO_ADMIN, "password": LIBEO_PASSWORD}).status_code == 302
    return browser


def _held_payment_id(libeo_app) -> int:
    with libeo_app.app_context():
        return libeo_db.session.scalar(select(Payment.id).where(Payment.status == PaymentStatus.AWAITING_APPROVAL))


def test_a_new_iban_from_meg_is_held_and_shown_so_then_approved(iban_changed_and_paid, apps, client, meg_app):
    invoice = text(client.get(f"/meg/achats/factures/{iban_changed_and_paid}"))
    assert "À approuver dans Libeo (nouvel IBAN du fournisseur)" in invoice
    assert ("Nouvel IBAN pour Minoterie Dupuis : FR76 •••• •••• •••• •••• ••83 859 (BNP PARIBAS). Ce fournisseur a été "
            "payé jusqu'ici sur l'IBAN FR76 •••• •••• •••• •••• ••91 963 (CREDIT AGRICOLE SA)") in invoice
    assert "À approuver dans Libeo (nouvel IBAN du fournisseur)" in text(client.get("/meg/achats/reglements"))
    assert f"?payer={iban_changed_and_paid}" not in invoice  # held: it cannot be paid a second time

    libeo = _libeo_admin(apps)
    waiting = shown(libeo.get("/libeo/a-approuver/"))
    assert "Facture MD-2026-NOUVEL-IBAN — Minoterie Dupuis — 1 850,00 €" in waiting
    assert "FR76 3000 4008 2200 0000 1583 859 — BNP PARIBAS" in waiting
    libeo.post(f"/libeo/a-approuver/{_held_payment_id(apps.libeo)}/approuver")

    run_sync(meg_app)
    assert f"Programmé le {DAY:%d/%m/%Y}" in text(client.get(f"/meg/achats/factures/{iban_changed_and_paid}"))
    # The approved IBAN is now the supplier's in Libeo: the next payment to it is not held.
    with apps.libeo.app_context():
        assert libeo_db.session.scalar(select(Payment.status).order_by(Payment.id.desc())) is PaymentStatus.SCHEDULED


def test_a_new_iban_refused_in_libeo_reads_the_same_in_meg_and_its_reason_comes_before_payer(
        iban_changed_and_paid, apps, client, meg_app):
    invoice_id = iban_changed_and_paid
    libeo = _libeo_admin(apps)
    libeo.post(f"/libeo/a-approuver/{_held_payment_id(apps.libeo)}/refuser",
               data={"reason": "RIB non confirmé par téléphone"})
    run_sync(meg_app)

    # One word, one reason, on both sides.
    assert "Annulé — approbation refusée : RIB non confirmé par téléphone" in shown(libeo.get("/libeo/paiements/"))
    with apps.libeo.app_context():
        libeo_invoice = libeo_db.session.scalar(select(Payment.invoice_id).order_by(Payment.id.desc()))
    libeo_page = text(libeo.get(f"/libeo/factures/{libeo_invoice}"))
    assert "Le dernier paiement de cette facture a été annulé" in libeo_page
    assert "a refusé de l'approuver" in libeo_page and "(« RIB non confirmé par téléphone »)" in libeo_page
    invoice = text(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "Annulé — approbation refusée : RIB non confirmé par téléphone" in invoice
    # Who refused it and when, as Libeo's invoice says (MEG's did not).
    assert re.search(r"Refusé par [^ ]+@[^ ]+ le \d\d/\d\d/\d{4} à \d\d:\d\d, dans Libeo\.", invoice), invoice
    assert "Libeo retient ce paiement" not in invoice
    settlements = text(client.get("/meg/achats/reglements"))
    assert "Annulé — approbation refusée : RIB non confirmé par téléphone" in settlements
    # The exports' « État » says the same (it said « À régler »).
    for url, column in (("/meg/achats/factures/export", "État"), ("/meg/achats/reglements/export", "Règlement")):
        for fmt, read in ((".csv", read_csv), (".xlsx", read_xlsx)):
            [row] = [row for row in read(client.get(url + fmt)) if str(row["Id"]) == str(invoice_id)]
            assert row[column] == "Annulé — approbation refusée : RIB non confirmé par téléphone", (url, fmt)
    # A refusal for a suspected fraud: no one-click « Payer » in the list, the reason on the invoice first.
    assert f"payer={invoice_id}" not in settlements and "Motif du refus à lire avant de payer" in settlements
    assert ("Un administrateur de Libeo a refusé le dernier paiement de cette facture, retenu pour nouvel IBAN du "
            "fournisseur : « RIB non confirmé par téléphone »") in invoice
    assert f'href="/meg/achats/factures/{invoice_id}?payer={invoice_id}#confirmer"' in (
        client.get(f"/meg/achats/factures/{invoice_id}").get_data(as_text=True))
    confirmation = text(client.get(f"/meg/achats/factures/{invoice_id}?payer={invoice_id}"))
    assert "« RIB non confirmé par téléphone »" in confirmation
    assert "J'ai vérifié l'IBAN auprès du fournisseur" in confirmation
    # Confirmed without ticking it (a crafted post): refused, nothing sent.
    refused = text(_meg_pay(client, invoice_id))
    assert "Cochez « J'ai vérifié l'IBAN auprès du fournisseur »" in refused
    with apps.libeo.app_context():
        assert libeo_db.session.scalar(select(Payment.status).order_by(Payment.id.desc())) is PaymentStatus.CANCELLED
    client.post(f"/meg/achats/factures/{invoice_id}/payer",
                data={"execution_date": DAY.isoformat(), "refusal_seen": "y"})
    assert "À approuver dans Libeo" in text(client.get(f"/meg/achats/factures/{invoice_id}"))


def test_meg_journals_the_iban_change_and_the_connection(iban_changed_and_paid, apps, client, meg_app, connected):
    journal = text(client.get("/meg/achats/journal/"))
    assert "Connexion à Libeo établie avec le compte « Boulangerie Martin SARL » (compte vérifié)" in journal
    assert ("IBAN du fournisseur « Minoterie Dupuis » modifié : FR76 •••• •••• •••• •••• ••91 963 (CREDIT AGRICOLE "
            "SA) → FR76 •••• •••• •••• •••• ••83 859 (BNP PARIBAS).") in journal

    # A key revoked in Libeo is seen by the next exchange, and journaled once.
    libeo = _libeo_admin(apps)
    libeo.post("/libeo/configuration/integrations/meg/revoquer")
    run_sync(meg_app)
    run_sync(meg_app)
    journal = text(client.get("/meg/achats/journal/"))
    assert journal.count("Libeo refuse la clé enregistrée") == 1

    # A new key pasted replaces it; removing the connection is journaled too.
    new_key = re.search(r"lbo_meg_[0-9a-f]{12}_[A-Za-z0-9_-]{43}",
                        libeo.post("/libeo/configuration/integrations/meg").get_data(as_text=True))[0]
    client.post("/meg/achats/options", data={"api_key": new_key})
    client.post("/meg/achats/options/libeo/supprimer")
    journal = text(client.get("/meg/achats/journal/"))
    assert "Clé Libeo remplacée" in journal
    assert "Connexion à Libeo supprimée (compte « Boulangerie Martin SARL »" in journal
    assert new_key not in journal and connected["key"] not in journal
    assert journal.count("Claire Martin (admin@boulangerie-martin.fr)") >= 3


def test_pasting_a_key_says_the_libeo_accounts_name_and_verification(client, demo, meg_auth, libeo_app):
    _, key = libeo_account(libeo_app, verified=False)
    meg_auth.login()
    page = text(client.post("/meg/achats/options", data={"api_key": key}, follow_redirects=True))
    # MEG trusts the company's SIRET, so saving the key vouches for the account: it is verified at once.
    assert "La connexion est établie avec le compte Libeo « Boulangerie Martin SARL » (compte vérifié)." in page


# --- a squatted SIRET, taken back through « Me connecter avec MEG » -------------------------------------


@pytest.mark.usefixtures("demo", "libeo_oauth_client")
def test_a_squatted_siret_is_taken_back_by_its_meg_administrator(apps, meg_app, libeo_app):
    # Someone signed up in Libeo with Garage Leroy's SIRET, and scheduled a payment there.
    squatter_id, squatter_key = libeo_account(libeo_app, name="Garage Leroy (faux)", siret=GARAGE_SIRET,
                                              email="escroc@exemple.fr", verified=False)
    with libeo_app.app_context():
        libeo_db.session.get(Account, squatter_id).debtor_iban = "FR7630006000011234567890189"
        libeo_db.session.commit()
    squatter = apps.root.test_client()
    squatter.post("/libeo/connexion", data={"email": "escroc@exemple.fr", "password": LIBEO_PASSWORD})
    created = squatter.post("/libeo/factures/nouvelle", data={
        "number": "X-1", "supplier_name": "Complice SARL", "supplier_iban": NEW_IBAN, "supplier_bic": "",
        "issue_date": paris_today().isoformat(), "due_date": paris_today().isoformat(), "amount": "9 800,00"})
    squatter.post(created.headers["Location"] + "/payer",
                  data={"execution_date": earliest_execution_date(paris_today()).isoformat()})

    # Garage Leroy's Achats administrator clicks « Payer » in MEG, then « Me connecter avec MEG »: the
    # account has been used, so it is not dispossessed on MEG's word alone; support reviews it.
    browser = Browser(apps)
    browser.meg_login()
    review = consent_and_come_back(browser, meg_app)
    assert browser.url.endswith("/libeo/connexion-meg/compte-existant")
    assert "il ne lui est pas retiré sans examen. Le support de Libeo examine la demande" in text(review)
    with libeo_app.app_context():
        kept = libeo_db.session.get(Account, squatter_id)
        assert (kept.siret, kept.lost_siret) == (GARAGE_SIRET, None)
    assert apps.root.test_client().get("/libeo/api/v1/me",
                                       headers={"Authorization": f"Bearer {squatter_key}"}).status_code == 200
    assert "SIRET 851 234 567 00002 revendiqué par gerant@garage-leroy.fr" in text(squatter.get("/libeo/journal/"))
    cli = apps.root.test_cli_runner()
    listed = cli.invoke(args=["libeo", "review-siret"]).output
    assert "Garage Leroy (faux) (85123456700002) : SIRET 851 234 567 00002 revendiqué" in listed
    decided = cli.invoke(args=["libeo", "review-siret", "--siret", GARAGE_SIRET, "--take-back"])
    assert decided.exit_code == 0 and "SIRET 85123456700002 retiré" in decided.output, decided.output

    # Support decided: the company's administrator now creates its verified account.
    consent_and_come_back(browser, meg_app)
    assert browser.url.endswith("/libeo/connexion-meg/compte")
    done = create_account_form(browser)
    assert done.status_code == 302

    with libeo_app.app_context():
        owner = libeo_db.session.scalar(select(Account).where(Account.siret == GARAGE_SIRET))
        assert owner.name == GARAGE and owner.is_verified and owner.users[0].email == GERANT
        assert "vérifié par MEG" in owner.verified_by
        lost = libeo_db.session.get(Account, squatter_id)
        assert (lost.siret, lost.lost_siret, lost.is_verified) == (None, GARAGE_SIRET, False)
    # MEG is connected to the verified account.
    with meg_app.app_context():
        from models.meg.libeo_link.connection import LibeoConnection

        connection = meg_db.session.scalar(select(LibeoConnection))
        assert connection.account_name == GARAGE and connection.account_verified is True

    # The squatter keeps its data, is told, and its key no longer works.
    told = text(squatter.get("/libeo/factures/"))
    assert "SIRET à confirmer." in told and "Le SIRET 851 234 567 00002 a été confirmé par un autre compte" in told
    assert "X-1" in told
    assert "SIRET 851 234 567 00002 confirmé par un autre compte Libeo (décision du support de Libeo)" in text(
        squatter.get("/libeo/journal/"))
    assert apps.root.test_client().get("/libeo/api/v1/me",
                                       headers={"Authorization": f"Bearer {squatter_key}"}).status_code == 401

    # Its SEPA files are never executed.
    output = apps.root.test_cli_runner().invoke(
        args=["libeo", "execute-payments", "--date", (paris_today() + timedelta(days=10)).isoformat()]).output
    assert "Garage Leroy (faux) : 1 paiement(s) en attente — compte non vérifié" in output
    with libeo_app.app_context():
        assert libeo_db.session.scalar(select(Payment.status).where(Payment.account_id == squatter_id)) is (
            PaymentStatus.SCHEDULED)


@pytest.mark.usefixtures("demo", "libeo_oauth_client")
def test_an_unused_squatting_account_loses_the_siret_to_its_meg_administrator(apps, meg_app, libeo_app):
    squatter_id, squatter_key = libeo_account(libeo_app, name="Garage Leroy (faux)", siret=GARAGE_SIRET,
                                              email="escroc@exemple.fr", verified=False)
    browser = Browser(apps)
    browser.meg_login()
    form = consent_and_come_back(browser, meg_app)
    assert browser.url.endswith("/libeo/connexion-meg/compte")
    assert "Un compte Libeo non vérifié utilise déjà ce SIRET (« Garage Leroy (faux) »)" in shown(form)
    assert create_account_form(browser).status_code == 302
    with libeo_app.app_context():
        lost = libeo_db.session.get(Account, squatter_id)
        assert (lost.siret, lost.lost_siret) == (None, GARAGE_SIRET)
    assert apps.root.test_client().get("/libeo/api/v1/me",
                                       headers={"Authorization": f"Bearer {squatter_key}"}).status_code == 401


@pytest.mark.usefixtures("demo", "libeo_oauth_client")
def test_a_verified_account_keeps_its_siret(apps, meg_app, libeo_app):
    libeo_account(libeo_app, name="Garage Leroy", siret=GARAGE_SIRET, email="atelier@garage-leroy.fr")
    browser = Browser(apps)
    browser.meg_login()
    consent_and_come_back(browser, meg_app)
    assert browser.url.endswith("/libeo/connexion-meg/compte-existant")
    with libeo_app.app_context():
        assert libeo_db.session.scalar(select(Account.name).where(Account.siret == GARAGE_SIRET)) == "Garage Leroy"


@pytest.mark.usefixtures("demo", "libeo_oauth_client")
def test_linking_an_own_unverified_account_as_administrator_verifies_it(apps, meg_app, libeo_app):
    account_id, _ = libeo_account(libeo_app, name="Garage Leroy", siret=GARAGE_SIRET, email="atelier@garage-leroy.fr",
                                  verified=False)
    browser = Browser(apps)
    browser.post("/libeo/connexion", data={"email": "atelier@garage-leroy.fr", "password": LIBEO_PASSWORD})
    browser.meg_login()
    consent_and_come_back(browser, meg_app)
    with libeo_app.app_context():
        account = libeo_db.session.get(Account, account_id)
        assert account.is_verified and account.siret == GARAGE_SIRET
