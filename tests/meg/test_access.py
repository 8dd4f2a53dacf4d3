"""Who sees what in MEG: login, sessions, companies, CSRF, redirects."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from models.meg import Company, Supplier, SupplierInvoice, db
from tests.conftest import build_apps
from tests.factories import meg_company, meg_invoice, meg_supplier, meg_user


def _ids(meg_app, company_name):
    with meg_app.app_context():
        company = db.session.scalar(select(Company).where(Company.name == company_name))
        invoice = db.session.scalar(select(SupplierInvoice.id).where(SupplierInvoice.company_id == company.id).limit(1))
        supplier = db.session.scalar(select(Supplier.id).where(Supplier.company_id == company.id).limit(1))
        return company.id, invoice, supplier


def test_pages_need_login(client, demo):
    for path in ("/meg/", "/meg/achats/", "/meg/achats/reglements", "/meg/achats/options", "/meg/achats/fournisseurs"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/meg/connexion" in response.headers["Location"]


def test_wrong_password_is_refused(client, demo, meg_auth):
    response = meg_auth.login(password="pas-le-bon")
    assert "Adresse e-mail ou mot de passe incorrect." in response.get_data(as_text=True)
    assert client.get("/meg/achats/").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)",
                                    "%2F%2Fevil.example", "\\\\evil.example", "/meg/achats/\r\nLocation: https://evil"])
def test_login_redirects_only_to_local_paths(client, demo, target):
    response = client.post(f"/meg/connexion?next={target}",
                           data={"email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026"})
    location = urlsplit(response.headers["Location"])
    assert not location.scheme and not location.netloc and location.path.startswith("/meg/")


def test_login_follows_local_next(client, demo):
    response = client.post("/meg/connexion?next=/meg/achats/reglements",
                           data={"email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026"})
    assert response.headers["Location"] == "/meg/achats/reglements"


def test_logout_ends_the_session_server_side(client, demo, meg_auth):
    meg_auth.login()
    stolen = client.get_cookie("meg_session", path="/meg").value
    meg_auth.logout()
    client.set_cookie("meg_session", stolen, path="/meg")
    assert client.get("/meg/achats/").status_code == 302


def test_other_company_data_is_404(client, demo, meg_auth, meg_app):
    _, garage_invoice, garage_supplier = _ids(meg_app, "Garage Leroy SAS")
    garage_id, *_ = _ids(meg_app, "Garage Leroy SAS")
    meg_auth.login("admin@boulangerie-martin.fr")
    assert client.get(f"/meg/achats/factures/{garage_invoice}").status_code == 404
    assert client.get(f"/meg/achats/factures/{garage_invoice}/modifier").status_code == 404
    assert client.post(f"/meg/achats/factures/{garage_invoice}/modifier", data={"number": "X"}).status_code == 404
    assert client.post(f"/meg/achats/factures/{garage_invoice}/payer").status_code == 404
    assert client.get(f"/meg/achats/fournisseurs/{garage_supplier}/modifier").status_code == 404
    assert client.post("/meg/entreprise", data={"company_id": garage_id}).status_code == 404
    page = client.get("/meg/achats/").get_data(as_text=True)
    assert "Garage Leroy" not in page and "Pièces Auto" not in page


def test_invoice_cannot_use_another_company_supplier(client, demo, meg_auth, meg_app):
    *_, garage_supplier = _ids(meg_app, "Garage Leroy SAS")
    meg_auth.login()
    response = client.post("/meg/achats/factures/nouvelle", data={
        "number": "X-1", "supplier_id": garage_supplier, "issue_date": "2026-11-01",
        "due_date": "2026-11-30", "amount": "10", "payment_mode": "VIREMENT"})
    assert "Choisissez un fournisseur de cette entreprise." in response.get_data(as_text=True)


def test_accountant_switches_between_client_companies(client, demo, meg_auth, meg_app):
    garage_id, garage_invoice, _ = _ids(meg_app, "Garage Leroy SAS")
    meg_auth.login("expert@cabinet-durand.fr")
    page = client.get("/meg/achats/").get_data(as_text=True)
    assert "Changer d'entreprise" in page
    for name in ("Boulangerie Martin SARL", "Garage Leroy SAS", "Association Les Amis du Quartier"):
        assert name in page
    response = client.post("/meg/entreprise", data={"company_id": garage_id, "next": "/meg/achats/reglements"})
    assert response.headers["Location"] == "/meg/achats/reglements"
    page = client.get("/meg/achats/reglements").get_data(as_text=True)
    assert "Garage Leroy SAS" in page and "Pièces Auto Distribution" in page
    assert client.get(f"/meg/achats/factures/{garage_invoice}").status_code == 200
    # An accountant works in Achats but does not administer it.
    assert client.get("/meg/achats/options").status_code == 403


def test_switching_company_from_a_record_of_the_former_opens_its_list_in_the_new_one(client, demo, meg_auth,
                                                                                      meg_app):
    """From an invoice of the Boulangerie, « Changer d'entreprise » → Garage Leroy led to « Page introuvable »
    under « Vous travaillez maintenant sur « Garage Leroy SAS » »."""
    garage_id, _, _ = _ids(meg_app, "Garage Leroy SAS")
    boulangerie_id, boulangerie_invoice, _ = _ids(meg_app, "Boulangerie Martin SARL")
    meg_auth.login("expert@cabinet-durand.fr")
    client.post("/meg/entreprise", data={"company_id": boulangerie_id})
    for record, its_list in ((f"/meg/achats/factures/{boulangerie_invoice}", "/meg/achats/"),
                             (f"/meg/achats/factures/{boulangerie_invoice}/modifier", "/meg/achats/"),
                             ("/meg/achats/fournisseurs/1/modifier", "/meg/achats/fournisseurs")):
        client.post("/meg/entreprise", data={"company_id": boulangerie_id})
        response = client.post("/meg/entreprise", data={"company_id": garage_id, "next": record})
        assert response.headers["Location"] == its_list
        shown = client.get(its_list, follow_redirects=True)
        assert shown.status_code == 200 and "Garage Leroy SAS" in shown.get_data(as_text=True)
    # A list keeps its filters in the company just opened.
    response = client.post("/meg/entreprise", data={"company_id": boulangerie_id,
                                                    "next": "/meg/achats/?etat=a_regler&q=edf"})
    assert response.headers["Location"] == "/meg/achats/?etat=a_regler&q=edf"


def test_accountant_of_another_firm_sees_nothing(client, demo, meg_auth, meg_app):
    from models.meg import AccountingFirm

    with meg_app.app_context():
        meg_user("autre@cabinet.fr", "un-mot-de-passe-long", full_name="Autre",
                 firm=AccountingFirm(name="Autre Cabinet"))
        db.session.commit()
    _, invoice, _ = _ids(meg_app, "Boulangerie Martin SARL")
    meg_auth.login("autre@cabinet.fr", "un-mot-de-passe-long")
    assert client.get("/meg/achats/").status_code == 403
    assert client.get(f"/meg/achats/factures/{invoice}").status_code == 403


def test_every_form_needs_a_csrf_token(tmp_path, worker_id_safe):
    apps = build_apps(tmp_path, worker_id_safe, meg={"WTF_CSRF_ENABLED": True})
    from models.meg.demo import create_demo_data

    with apps.meg.app_context():
        create_demo_data()
    client = apps.root.test_client()
    page = client.get("/meg/connexion").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    response = client.post("/meg/connexion", data={"email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026"})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)
    assert client.get("/meg/achats/").status_code == 302  # not logged in


def test_pagination_of_invoices(client, demo, meg_auth, meg_app):
    from datetime import date

    from models.meg import PaymentMode

    with meg_app.app_context():
        company = meg_company("Boulangerie Martin SARL")
        supplier = meg_supplier(company)
        for k in range(40):
            meg_invoice(company, supplier, f"P-{k}", amount_cents=100 + k, issue_date=date(2025, 1, 1),
                        due_date=date(2025, 2, 1), payment_mode=PaymentMode.VIREMENT)
        db.session.commit()
    meg_auth.login()
    first = client.get("/meg/achats/").get_data(as_text=True)
    assert "Page 1 sur 2" in first
    second = client.get("/meg/achats/?page=2").get_data(as_text=True)
    assert "Page 2 sur 2" in second
    assert client.get("/meg/achats/?page=abc").status_code == 200
    assert client.get("/meg/achats/?page=99999999999999").status_code == 200
