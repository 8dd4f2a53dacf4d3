"""MEG's safeguards: duplicate warning at entry, the journal, bank names.

(Holds shown in MEG, and the journal of the Libeo connection, are tested
with Libeo in tests/integration/test_safeguards_flow.py.)
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from models.meg import Company, Supplier, SupplierInvoice, db
from models.meg.journal import MegJournalEntry
from tests.helpers import text

MINOTERIE_IBAN = "FR7630006000010000000791963"  # Crédit Agricole, demo data
NEW_IBAN = "FR7630004008220000001583859"  # BNP Paribas


def _ids(meg_app, supplier_name="Minoterie Dupuis", company="Boulangerie Martin SARL"):
    with meg_app.app_context():
        supplier = db.session.scalar(select(Supplier).join(Company).where(Supplier.name == supplier_name,
                                                                         Company.name == company))
        invoice = db.session.scalar(select(SupplierInvoice).where(SupplierInvoice.supplier_id == supplier.id)
                                    .order_by(SupplierInvoice.id))
        return supplier.id, invoice.id, invoice.issue_date, invoice.amount_cents, invoice.number


def _count(meg_app) -> int:
    with meg_app.app_context():
        return db.session.scalar(select(func.count(SupplierInvoice.id)))


def _invoice_form(supplier_id, number, issue_date: date, amount: str, **extra) -> dict:
    return {"number": number, "supplier_id": supplier_id, "issue_date": issue_date.isoformat(),
            "due_date": (issue_date + timedelta(days=30)).isoformat(), "amount": amount, "payment_mode": "LIBEO",
            **extra}


# --- duplicate warning at entry --------------------------------------------------------------------


def test_same_supplier_amount_and_date_warns_and_asks_to_confirm(client, demo, meg_auth, meg_app):
    meg_auth.login()
    supplier_id, invoice_id, issued, cents, number = _ids(meg_app)
    before = _count(meg_app)
    form = _invoice_form(supplier_id, number + "-BIS", issued, f"{cents // 100},{cents % 100:02d}")

    warned = client.post("/meg/achats/factures/nouvelle", data=form)
    page = text(warned)
    assert warned.status_code == 200
    assert "Doublon possible." in page
    assert f"Facture {number}</a> de Minoterie Dupuis, 486,50 €, du {issued:%d/%m/%Y}" in page
    assert "Confirmer malgré le doublon" in page
    assert _count(meg_app) == before  # nothing saved yet

    confirmed = client.post("/meg/achats/factures/nouvelle", data={**form, "confirm_duplicate": "y"},
                            follow_redirects=True)
    assert f"La facture {number}-BIS est enregistrée." in text(confirmed)
    assert _count(meg_app) == before + 1


def test_same_number_and_amount_at_another_supplier_warns(client, demo, meg_auth, meg_app):
    """The same invoice entered under a second supplier (a supplier entered twice)."""
    meg_auth.login()
    _, _, issued, cents, number = _ids(meg_app)
    other_supplier, *_ = _ids(meg_app, "Laiterie des Prés")
    form = _invoice_form(other_supplier, number, issued + timedelta(days=3), f"{cents // 100},{cents % 100:02d}")
    assert "Doublon possible." in text(client.post("/meg/achats/factures/nouvelle", data=form))


def test_the_same_supplier_and_number_is_still_refused(client, demo, meg_auth, meg_app):
    meg_auth.login()
    supplier_id, _, issued, _, number = _ids(meg_app)
    form = _invoice_form(supplier_id, number, issued, "12,00", confirm_duplicate="y")
    page = text(client.post("/meg/achats/factures/nouvelle", data=form))
    assert "Ce fournisseur a déjà une facture avec ce numéro." in page


def test_an_ordinary_invoice_is_saved_without_a_question(client, demo, meg_auth, meg_app):
    meg_auth.login()
    supplier_id, _, issued, _, _ = _ids(meg_app)
    saved = client.post("/meg/achats/factures/nouvelle",
                        data=_invoice_form(supplier_id, "MD-NOUVELLE", issued + timedelta(days=1), "486,50"),
                        follow_redirects=True)
    assert "La facture MD-NOUVELLE est enregistrée." in text(saved)  # same amount, another date: no warning


def test_an_edit_that_makes_a_duplicate_warns_and_one_that_keeps_it_does_not(client, demo, meg_auth, meg_app):
    meg_auth.login()
    supplier_id, first_id, issued, cents, number = _ids(meg_app)
    amount = f"{cents // 100},{cents % 100:02d}"
    created = client.post("/meg/achats/factures/nouvelle",
                          data=_invoice_form(supplier_id, "MD-2", issued + timedelta(days=1), amount),
                          follow_redirects=True)
    second_id = int(created.request.path.rsplit("/", 1)[1])

    moved = _invoice_form(supplier_id, "MD-2", issued, amount)
    assert "Doublon possible." in text(client.post(f"/meg/achats/factures/{second_id}/modifier", data=moved))
    client.post(f"/meg/achats/factures/{second_id}/modifier", data={**moved, "confirm_duplicate": "y"})
    # Changing only its due date later does not ask again.
    later = {**moved, "due_date": (issued + timedelta(days=60)).isoformat()}
    assert "est modifiée" in text(client.post(f"/meg/achats/factures/{second_id}/modifier", data=later,
                                              follow_redirects=True))


# --- the journal of supplier IBANs -----------------------------------------------------------------


def test_a_supplier_iban_change_is_journaled_masked_with_who_and_when(client, demo, meg_auth, meg_app):
    meg_auth.login()
    supplier_id, *_ = _ids(meg_app)
    changed = client.post(f"/meg/achats/fournisseurs/{supplier_id}/modifier",
                          data={"name": "Minoterie Dupuis", "iban": NEW_IBAN, "bic": ""}, follow_redirects=True)
    page = text(changed)
    assert "Le fournisseur « Minoterie Dupuis » est modifié." in page
    assert "son prochain paiement attendra qu'un administrateur l'approuve dans Libeo" in page

    journal = text(client.get("/meg/achats/journal/"))
    assert ("IBAN du fournisseur « Minoterie Dupuis » modifié : FR76 •••• •••• •••• •••• ••91 963 "
            "(CREDIT AGRICOLE SA) → FR76 •••• •••• •••• •••• ••83 859 (BNP PARIBAS).") in journal
    assert "Claire Martin (admin@boulangerie-martin.fr)" in journal
    assert MINOTERIE_IBAN not in journal and NEW_IBAN not in journal


def test_saving_a_supplier_without_changing_its_iban_writes_nothing(client, demo, meg_auth, meg_app):
    meg_auth.login()
    supplier_id, *_ = _ids(meg_app)
    client.post(f"/meg/achats/fournisseurs/{supplier_id}/modifier",
                data={"name": "Minoterie Dupuis et Fils", "iban": MINOTERIE_IBAN, "bic": ""})
    with meg_app.app_context():
        assert db.session.scalar(select(func.count(MegJournalEntry.id))) == 0


def test_a_new_supplier_is_journaled_with_its_iban(client, demo, meg_auth):
    meg_auth.login("compta@boulangerie-martin.fr")  # an Achats user may add a supplier…
    client.post("/meg/achats/fournisseurs/nouveau", data={"name": "Transports Garnier", "iban": NEW_IBAN, "bic": ""},
                follow_redirects=True)
    meg_auth.logout()
    meg_auth.login()  # …only an administrator reads the journal
    assert ("Fournisseur « Transports Garnier » créé avec l'IBAN FR76 •••• •••• •••• •••• ••83 859 (BNP PARIBAS)."
            in text(client.get("/meg/achats/journal/")))


def test_the_journal_is_for_achats_administrators_of_the_company(client, demo, meg_auth):
    meg_auth.login("compta@boulangerie-martin.fr")
    refused = client.get("/meg/achats/journal/")
    assert refused.status_code == 403
    assert "Seuls les administrateurs du module « Achats » peuvent lire le journal." in text(refused)
    meg_auth.logout()
    meg_auth.login("expert@cabinet-durand.fr")
    assert client.get("/meg/achats/journal/").status_code == 403
    meg_auth.logout()
    meg_auth.login()
    options = text(client.get("/meg/achats/options"))
    assert 'href="/meg/achats/journal/">Journal</a>' in options
    assert "Aucun événement pour l'instant." in text(client.get("/meg/achats/journal/"))


def test_one_companys_journal_is_not_anothers(client, demo, meg_auth, meg_app):
    meg_auth.login()
    supplier_id, *_ = _ids(meg_app)
    client.post(f"/meg/achats/fournisseurs/{supplier_id}/modifier",
                data={"name": "Minoterie Dupuis", "iban": NEW_IBAN, "bic": ""}, follow_redirects=True)
    meg_auth.logout()
    meg_auth.login("gerant@garage-leroy.fr")
    journal = text(client.get("/meg/achats/journal/"))
    assert "Garage Leroy SAS" in journal and "Aucun événement pour l'instant." in journal


# --- bank names and BICs ---------------------------------------------------------------------------


def test_supplier_pages_show_the_bank_and_a_derived_bic(client, demo, meg_auth, meg_app):
    meg_auth.login()
    client.post("/meg/achats/fournisseurs/nouveau", data={"name": "Transports Garnier", "iban": NEW_IBAN, "bic": ""})
    listing = text(client.get("/meg/achats/fournisseurs"))
    assert "<td data-label=\"Banque\">BNP PARIBAS</td>" in listing and "BNPAFRPP (déduit de l'IBAN)" in listing
    # A BIC entered is shown as is.
    assert "<td data-label=\"Banque\">CREDIT AGRICOLE SA</td>" in listing and "AGRIFRPPXXX" in listing
    supplier_id, *_ = _ids(meg_app)
    form = text(client.get(f"/meg/achats/fournisseurs/{supplier_id}/modifier"))
    assert "FR76 3000 6000 0100 0000 0791 963</span> — CREDIT AGRICOLE SA" in form
    _, invoice_id, *_ = _ids(meg_app)
    invoice = text(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "— CREDIT AGRICOLE SA" in invoice and "AGRIFRPPXXX" in invoice


def test_a_bic_left_over_from_the_previous_iban_is_refused(client, demo, meg_auth, meg_app):
    meg_auth.login()
    supplier_id, *_ = _ids(meg_app)
    page = text(client.post(f"/meg/achats/fournisseurs/{supplier_id}/modifier",
                            data={"name": "Minoterie Dupuis", "iban": NEW_IBAN, "bic": "AGRIFRPPXXX"}))
    assert ("Ce BIC (AGRIFRPPXXX) n'est pas celui de la banque de cet IBAN (BNP PARIBAS : BNPAFRPP) : corrigez-le, "
            "ou laissez-le vide pour qu'il soit déduit de l'IBAN.") in page
    with meg_app.app_context():
        assert db.session.get(Supplier, supplier_id).iban == MINOTERIE_IBAN  # nothing changed
        assert db.session.scalar(select(func.count(MegJournalEntry.id))) == 0
