"""Both apps talk for real: MEG's client calls Libeo's API through its WSGI stack."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.meg import Company, SupplierInvoice
from models.meg import db as meg_db
from models.meg.achats.models import PaymentMode

BOULANGERIE_SIRET = "83451234500002"
GARAGE_SIRET = "85123456700002"


def libeo_account(libeo_app, name="Boulangerie Martin SARL", siret=BOULANGERIE_SIRET,
                  email="claire@boulangerie-martin.fr", verified=True):
    """A Libeo account signed up directly in Libeo; returns (account_id, MEG API key).

    ``verified`` as support makes it (``flask libeo verify-account``); an
    unverified one is what anybody may create with any SIRET.
    """
    from models.libeo import db
    from models.libeo.accounts.keys import issue_meg_api_key
    from models.libeo.accounts.services import create_account, verify_account

    with libeo_app.app_context():
        account = create_account(name=name, siret=siret, email=email, password="mot-de-passe-solide-42",
                                 full_name="Claire Martin")
        if verified:
            verify_account(account, "vérifié par le support de Libeo", "tests")
        db.session.commit()
        key = issue_meg_api_key(account)
        db.session.commit()
        return account.id, key


def libeo_invoices(libeo_app):
    from models.libeo import db
    from models.libeo.invoices.models import Invoice

    with libeo_app.app_context():
        return [
            {"external_id": i.external_id, "number": i.number, "amount_cents": i.amount_cents,
             "supplier_iban": i.supplier_iban, "supplier_name": i.supplier_name, "source": i.source.name,
             "due_date": i.due_date}
            for i in db.session.scalars(select(Invoice).order_by(Invoice.id))
        ]


def libeo_payments(libeo_app):
    from models.libeo import db
    from models.libeo.payments.models import Payment

    with libeo_app.app_context():
        return [
            {"id": p.id, "status": p.status.value, "amount_cents": p.amount_cents, "invoice_id": p.invoice_id,
             "initiated_by_email": p.initiated_by_email, "initiated_by_role": p.initiated_by_role.value,
             "channel": p.channel.value}
            for p in db.session.scalars(select(Payment).order_by(Payment.id))
        ]


def meg_libeo_invoices(meg_app, company_name="Boulangerie Martin SARL"):
    """The company's unpaid « Virement par Libeo » invoices, as (id, number, amount_cents)."""
    with meg_app.app_context():
        company = meg_db.session.scalar(select(Company).where(Company.name == company_name))
        rows = meg_db.session.scalars(
            select(SupplierInvoice)
            .where(SupplierInvoice.company_id == company.id, SupplierInvoice.payment_mode == PaymentMode.LIBEO,
                   SupplierInvoice.paid_at.is_(None))
            .order_by(SupplierInvoice.id)
        ).all()
        return [(i.id, i.number, i.amount_cents) for i in rows]


@pytest.fixture
def connected(client, demo, meg_auth, libeo_app):
    """Boulangerie Martin connected through « Options » with a key from Libeo; admin logged in."""
    account_id, key = libeo_account(libeo_app)
    meg_auth.login("admin@boulangerie-martin.fr")
    response = client.post("/meg/achats/options", data={"api_key": key}, follow_redirects=True)
    assert "La connexion est établie" in response.get_data(as_text=True)
    return {"account_id": account_id, "key": key}


def libeo_down(apps):
    """Cuts MEG off from Libeo: no in-process route, and a closed port on the network."""
    saved = (apps.meg.extensions.get("http_peers", {}), apps.meg.config["LIBEO_URL"])
    apps.meg.extensions["http_peers"] = {}
    apps.meg.config["LIBEO_URL"] = "http://127.0.0.1:9/libeo"
    return saved


def libeo_back(apps, saved):
    apps.meg.extensions["http_peers"], apps.meg.config["LIBEO_URL"] = saved


@pytest.fixture
def libeo_oauth_client(apps):
    """Libeo registered as MEG's OAuth client, as ``flask --app app demo`` does it."""
    from app import register_meg_client

    register_meg_client(apps.meg, apps.libeo)


@pytest.fixture
def deployment(tmp_path, worker_id_safe):
    """MEG and Libeo each under its own gunicorn, port, instance folder and database (set up, not started)."""
    from .deployment import Deployment

    apart = Deployment(tmp_path, worker_id_safe)
    apart.set_up()
    yield apart
    apart.close()


@pytest.fixture
def faulty(tmp_path, worker_id_safe):
    """Both products deployed apart and serving, MEG reaching Libeo through a fault proxy (``.proxy``)."""
    from .deployment import Deployment

    apart = Deployment(tmp_path, worker_id_safe, with_proxy=True)
    apart.set_up()
    apart.start("libeo")
    apart.start("meg")
    yield apart
    apart.close()


@pytest.fixture
def running(deployment):
    """Both products deployed apart and serving."""
    deployment.start("libeo")
    deployment.start("meg")
    return deployment
