"""« Achats »: invoices, « Règlements », suppliers, « Options », by the demo's people."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from models.meg import PaymentMode, Supplier, SupplierInvoice, db
from tests.factories import meg_company
from tests.helpers import BAD_INVOICE_FIELDS


def _invoices(meg_app, company_name):
    with meg_app.app_context():
        company = meg_company(company_name)
        return db.session.scalars(select(SupplierInvoice).where(SupplierInvoice.company_id == company.id)).all()


def test_admin_sees_invoices_and_reglements(client, demo, meg_auth):
    meg_auth.login()
    answer = client.get("/meg/achats/", follow_redirects=True)
    page = answer.get_data(as_text=True)
    assert "Boulangerie Martin SARL" in page
    assert "SIRET 834 512 345 00002" in page
    assert "Minoterie Dupuis" in page
    assert "486,50\u00a0€" in answer.data.decode()  # French money: the amount never wraps apart
    settle = client.get("/meg/achats/reglements").get_data(as_text=True)
    assert "Règlements" in settle
    assert settle.count("Virement par Libeo") >= 3
    assert "189,00" not in settle  # the paid prélèvement is not to settle


def test_company_without_siret_says_so(client, demo, meg_auth):
    meg_auth.login("president@amis-du-quartier.fr")
    page = client.get("/meg/achats/").get_data(as_text=True)
    assert "Association Les Amis du Quartier" in page
    assert "Pas de SIRET" in page


def test_create_invoice(client, demo, meg_auth, meg_app):
    meg_auth.login()
    with meg_app.app_context():
        supplier_id = db.session.scalar(select(Supplier.id).where(Supplier.name == "Laiterie des Prés"))
    response = client.post(
        "/meg/achats/factures/nouvelle",
        data={
            "number": "LP-2026-77",
            "supplier_id": supplier_id,
            "issue_date": "2026-11-02",
            "due_date": "2026-12-02",
            "amount": "1 234,56",
            "payment_mode": "LIBEO",
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "La facture LP-2026-77 est enregistrée." in page
    assert "1\u202f234,56\u00a0€" in response.data.decode()
    invoice = next(i for i in _invoices(meg_app, "Boulangerie Martin SARL") if i.number == "LP-2026-77")
    assert invoice.amount_cents == 123456
    assert invoice.payment_mode is PaymentMode.LIBEO


BAD_INVOICES = [
    *BAD_INVOICE_FIELDS,
    ({"issue_date": "pas une date"}, "date"),
    ({"supplier_id": "abc"}, "Choisissez un fournisseur"),
    ({"supplier_id": "999999"}, "Choisissez un fournisseur de cette entreprise"),
    ({"payment_mode": "BITCOIN"}, "choix valide"),
]


@pytest.mark.parametrize("change, message", BAD_INVOICES)
def test_bad_invoice_input_is_refused_and_saves_nothing(client, demo, meg_auth, meg_app, change, message):
    meg_auth.login()
    with meg_app.app_context():
        supplier_id = db.session.scalar(select(Supplier.id).where(Supplier.name == "Laiterie des Prés"))
        before = db.session.scalar(select(func.count(SupplierInvoice.id)))
    data = {
        "number": "NEW-1",
        "supplier_id": supplier_id,
        "issue_date": "2026-11-02",
        "due_date": "2026-12-02",
        "amount": "100,00",
        "payment_mode": "VIREMENT",
        **change,
    }
    response = client.post("/meg/achats/factures/nouvelle", data=data)
    assert response.status_code == 200
    assert message in unescape(response.get_data(as_text=True))
    with meg_app.app_context():
        assert db.session.scalar(select(func.count(SupplierInvoice.id))) == before


def test_edit_invoice(client, demo, meg_auth, meg_app):
    meg_auth.login()
    invoice = next(i for i in _invoices(meg_app, "Boulangerie Martin SARL") if i.amount_cents == 48_650)
    form = client.get(f"/meg/achats/factures/{invoice.id}/modifier").get_data(as_text=True)
    assert 'value="486,50"' in form
    response = client.post(
        f"/meg/achats/factures/{invoice.id}/modifier",
        data={
            "number": invoice.number,
            "supplier_id": invoice.supplier_id,
            "issue_date": invoice.issue_date.isoformat(),
            "due_date": invoice.due_date.isoformat(),
            "amount": "500",
            "payment_mode": "LIBEO",
        },
        follow_redirects=True,
    )
    assert "500,00\u00a0€" in response.data.decode()


@pytest.mark.parametrize(
    "iban, bic, message",
    [
        ("FR7630006000010000000791964", "", "IBAN n'est pas valide"),
        ("XX12", "", "IBAN n'est pas valide"),
        ("", "", "Saisissez un IBAN"),
        ("FR7630006000010000000791963", "ABC", "BIC n'est pas valide"),
    ],
)
def test_bad_supplier_is_refused(client, demo, meg_auth, meg_app, iban, bic, message):
    meg_auth.login()
    with meg_app.app_context():
        before = db.session.scalar(select(func.count(Supplier.id)))
    response = client.post("/meg/achats/fournisseurs/nouveau", data={"name": "Nouveau", "iban": iban, "bic": bic})
    assert message in unescape(response.get_data(as_text=True))
    with meg_app.app_context():
        assert db.session.scalar(select(func.count(Supplier.id))) == before


def test_create_supplier_normalises_iban(client, demo, meg_auth, meg_app):
    meg_auth.login()
    response = client.post(
        "/meg/achats/fournisseurs/nouveau",
        data={"name": "Moulin Neuf", "iban": "fr76 3000 6000 0100 0000 0791 963", "bic": "agrifrpp"},
        follow_redirects=True,
    )
    assert "FR76 3000 6000 0100 0000 0791 963" in response.get_data(as_text=True)


def test_options_reserved_to_achats_admins(client, demo, meg_auth):
    meg_auth.login("compta@boulangerie-martin.fr")
    response = client.get("/meg/achats/options")
    assert response.status_code == 403
    assert "Seuls les administrateurs du module « Achats »" in response.get_data(as_text=True)
    assert client.post("/meg/achats/options", data={}).status_code == 403
    meg_auth.logout()
    meg_auth.login("admin@boulangerie-martin.fr")
    page = client.get("/meg/achats/")
    assert re.search(r'aria-label="Options"', page.get_data(as_text=True))
    assert client.get("/meg/achats/options").status_code == 200
