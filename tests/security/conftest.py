"""Fixtures of the security suite: apps built with the settings a test needs.

(The folder has an ``__init__.py``: this conftest adds to tests/conftest.py
instead of shadowing it.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from tests.conftest import _empty_databases, build_apps

from .helpers import BOULANGERIE_SIRET, GARAGE_SIRET, libeo_account, meg_login


@pytest.fixture
def make_apps(tmp_path, worker_id_safe):
    """Builds both apps with config overrides; databases emptied before and after."""
    built = []

    def make(**overrides):
        apps = build_apps(tmp_path, worker_id_safe, **overrides)
        _empty_databases(apps)
        built.append(apps)
        return apps

    yield make
    for apps in built:
        _empty_databases(apps)


@pytest.fixture(scope="module")
def make_module_apps(tmp_path_factory, request):
    """``make_apps`` for a whole module: apps its tests share (fuzzers, whose examples need no fresh database).

    On PostgreSQL the databases are the worker's usual ones: pytest tears this
    down before a test of another module runs on the worker.
    """
    worker = getattr(request.config, "workerinput", {}).get("workerid", "gw0")
    built = []

    def make(**overrides):
        apps = build_apps(tmp_path_factory.mktemp("apps"), worker, **overrides)
        _empty_databases(apps)
        built.append(apps)
        return apps

    yield make
    for apps in built:
        _empty_databases(apps)


@dataclass
class World:
    """Both products with data in two companies: Boulangerie Martin (the user's) and Garage Leroy (the victim's).

    Each is connected to its own Libeo account and has paid one invoice
    through it; the victim also has rows whose text is found nowhere else
    (``VICTIM_MARKERS``), so a page that leaks them is caught.
    """

    apps: object
    meg: dict = field(default_factory=dict)  # name -> id, on MEG's side
    libeo: dict = field(default_factory=dict)  # name -> id or value, on Libeo's side
    keys: dict = field(default_factory=dict)  # company -> Libeo API key


VICTIM_MARKERS = ("Fournisseur Secret Leroy", "SECRET-LEROY-0042", "Facture Libeo Secrète Leroy",
                  "FR7630004000000009988776620")


def populate(apps) -> World:
    from sqlalchemy import select

    from core.dates import utcnow
    from models.libeo import Account, BankAnomaly, SepaBatch
    from models.libeo import Invoice as LibeoInvoice
    from models.libeo import Payment as PaymentAttempt
    from models.libeo import db as libeo_db
    from models.libeo.accounts.services import set_bank_account
    from models.libeo.invoices.services import create_libeo_invoice, invoice_data
    from models.libeo.payments.sepa import execute_due_payments
    from models.meg import Company, OutboxMessage, Supplier, SupplierInvoice
    from models.meg import db as meg_db
    from models.meg.achats.models import PaymentMode
    from models.meg.demo import create_demo_data

    world = World(apps)
    with apps.meg.app_context():
        create_demo_data()
        for name, label in (("boulangerie", "Boulangerie Martin SARL"), ("garage", "Garage Leroy SAS"),
                            ("association", "Association Les Amis du Quartier")):
            world.meg[name] = meg_db.session.scalar(select(Company.id).where(Company.name == label))
        garage = meg_db.session.get(Company, world.meg["garage"])
        supplier = Supplier(company=garage, name=VICTIM_MARKERS[0], iban=VICTIM_MARKERS[3], bic=None)
        meg_db.session.add(supplier)
        meg_db.session.flush()
        first = meg_db.session.scalars(
            select(SupplierInvoice).where(SupplierInvoice.company_id == garage.id).order_by(SupplierInvoice.id)
        ).first()
        secret = SupplierInvoice(
            company_id=garage.id, supplier_id=supplier.id, number=VICTIM_MARKERS[1], issue_date=first.issue_date,
            due_date=first.due_date, amount_cents=424_242, payment_mode=PaymentMode.LIBEO,
        )
        meg_db.session.add(secret)
        meg_db.session.commit()
        world.meg["garage_supplier"] = supplier.id
        world.meg["garage_invoice"] = secret.id
        for name in ("boulangerie", "garage"):
            world.meg[f"{name}_libeo_invoice"] = meg_db.session.scalar(
                select(SupplierInvoice.id)
                .where(SupplierInvoice.company_id == world.meg[name], SupplierInvoice.payment_mode == PaymentMode.LIBEO,
                       SupplierInvoice.paid_at.is_(None), SupplierInvoice.number != VICTIM_MARKERS[1])
                .order_by(SupplierInvoice.id)
            )
        world.meg["boulangerie_supplier"] = meg_db.session.scalar(
            select(Supplier.id).where(Supplier.company_id == world.meg["boulangerie"]).order_by(Supplier.id)
        )
        # An invoice update each company's Libeo refused for good (« Options » → « Réessayer », « Ignorer »).
        for name in ("boulangerie", "garage"):
            refused = OutboxMessage(company_id=world.meg[name], invoice_id=world.meg[f"{name}_libeo_invoice"],
                                    payload={"number": VICTIM_MARKERS[1]}, refused_at=utcnow(),
                                    last_error="Refusée par Libeo.")
            meg_db.session.add(refused)
            meg_db.session.commit()
            world.meg[f"{name}_refused_update"] = refused.id

    accounts = {
        "boulangerie": ("Boulangerie Martin SARL", BOULANGERIE_SIRET, "claire@boulangerie-martin.fr",
                        "admin@boulangerie-martin.fr"),
        "garage": ("Garage Leroy SAS", GARAGE_SIRET, "marc@garage-leroy.fr", "gerant@garage-leroy.fr"),
    }
    for name, (label, siret, email, meg_admin) in accounts.items():
        account_id, key = libeo_account(apps.libeo, label, siret, email)
        world.keys[name] = key
        world.libeo[name] = account_id
        world.libeo[f"{name}_email"] = email
        client = apps.root.test_client()
        assert meg_login(client, meg_admin).status_code == 302
        answer = client.post("/meg/achats/options", data={"api_key": key}, follow_redirects=True)
        assert "La connexion est établie" in answer.get_data(as_text=True)
        invoice_id = world.meg[f"{name}_libeo_invoice"]
        answer = client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True)
        assert "Paiement programmé" in answer.get_data(as_text=True), answer.get_data(as_text=True)[-3000:]

    _einvoice_files(apps, world)

    with apps.libeo.app_context():
        victim = libeo_db.session.get(Account, world.libeo["garage"])
        set_bank_account(victim, "FR7630004000031234567890143", None)
        set_bank_account(libeo_db.session.get(Account, world.libeo["boulangerie"]), "FR7630006000011234567890189", None)
        direct = create_libeo_invoice(victim, invoice_data(
            number=VICTIM_MARKERS[2], supplier_name="Carrosserie Lambda", supplier_iban=VICTIM_MARKERS[3],
            supplier_bic=None, issue_date=date(2026, 1, 5), due_date=date(2026, 2, 5), amount_cents=99_999,
        ))
        libeo_db.session.commit()
        world.libeo["garage_direct_invoice"] = direct.id
        for name in ("boulangerie", "garage"):
            payment = libeo_db.session.scalars(
                select(PaymentAttempt).where(PaymentAttempt.account_id == world.libeo[name])
            ).one()
            world.libeo[f"{name}_payment"] = payment.id
            world.libeo[f"{name}_invoice"] = payment.invoice_id
            world.libeo[f"{name}_external_id"] = libeo_db.session.get(LibeoInvoice, payment.invoice_id).external_id
        # Each payment handed to the bank in a SEPA file (« Remises »): « Remis à la banque ».
        execute_due_payments(None, date(2099, 12, 31))
        for name in ("boulangerie", "garage"):
            world.libeo[f"{name}_batch"] = libeo_db.session.scalar(
                select(SepaBatch.id).where(SepaBatch.account_id == world.libeo[name])
            )
            # What a bank file said that waits for a person (« Remises » → « À vérifier »).
            anomaly = BankAnomaly(account_id=world.libeo[name], payment_id=world.libeo[f"{name}_payment"],
                                  kind="contradiction", message="Le relevé de statut contredit ce paiement.",
                                  reported_status="failed", reported_reason="Rejeté : provision insuffisante (AM04)")
            libeo_db.session.add(anomaly)
            libeo_db.session.flush()
            world.libeo[f"{name}_anomaly"] = anomaly.id
        # A second user of the victim enrolled a passkey (« Sécurité »); Boulangerie's users did not.
        from models.libeo import LibeoUser, Passkey

        victim_user = LibeoUser(account_id=world.libeo["garage"], email="securite@garage-leroy.fr", is_admin=False)
        libeo_db.session.add(victim_user)
        libeo_db.session.flush()
        passkey = Passkey(user_id=victim_user.id, credential_id="victim-passkey", public_key=b"\x00" * 77,
                          sign_count=0, name="Clé du Garage", created_at=utcnow())
        libeo_db.session.add(passkey)
        libeo_db.session.flush()
        world.libeo["garage_passkey"] = passkey.id
        # The victim's invoice carries its PDF, as MEG sends it.
        from models.libeo.invoices.documents import store_invoice_document

        store_invoice_document(libeo_db.session.get(LibeoInvoice, world.libeo["garage_invoice"]), VICTIM_PDF)
        libeo_db.session.commit()
    return world


def own_path_values(world: World, side: str) -> dict:
    """A value of each path parameter that belongs to Boulangerie Martin, the company of most roles."""
    if side == "meg":
        return {"invoice_id": world.meg["boulangerie_libeo_invoice"], "supplier_id": world.meg["boulangerie_supplier"],
                "message_id": world.meg["boulangerie_refused_update"], "action": "reessayer",
                "import_id": world.meg["boulangerie_import"],
                "token": unsubscribe_token(world, "meg", "admin@boulangerie-martin.fr", "payment_outcome"),
                "key": MAILDIR_KEY, "fmt": "csv"}
    return {"invoice_id": world.libeo["boulangerie_invoice"], "payment_id": world.libeo["boulangerie_payment"],
            "external_id": world.libeo["boulangerie_external_id"], "batch_id": world.libeo["boulangerie_batch"],
            "token": unsubscribe_token(world, "libeo", world.libeo["boulangerie_email"], "payment_debited"),
            "key": MAILDIR_KEY, "anomaly_id": world.libeo["boulangerie_anomaly"], "fmt": "csv",
            # Boulangerie enrolled no passkey: any id names someone else's (answered 404).
            "passkey_id": world.libeo["garage_passkey"]}


# A message's name in the development server's mailbox (« E-mails envoyés », absent outside it).
MAILDIR_KEY = "1796400447.M785156P30215Q1.vm"


def unsubscribe_token(world: World, side: str, email: str, setting: str) -> str:
    """The signed « Ne plus recevoir ces e-mails » link of one of the person's e-mails."""
    if side == "meg":
        from models.meg.notifications.kinds import notifier
    else:
        from models.libeo.notifications.kinds import notifier
    with getattr(world.apps, side).app_context():
        return notifier.unsubscribe_token(email, setting)


VICTIM_PDF = f"%PDF-1.4\n% {VICTIM_MARKERS[1]}\n%%EOF\n".encode()


def _einvoice_files(apps, world: World) -> None:
    """An e-invoice each company's administrator is importing, and the victim's invoice with its file."""
    from sqlalchemy import select

    from devtools.einvoice_samples import sample_file, sample_invoice
    from models.meg import Company, SupplierInvoice, User
    from models.meg import db as meg_db
    from models.meg.einvoices.documents import DocumentFile, attach_document
    from models.meg.einvoices.imports import start_import

    xml = sample_file(sample_invoice(), "cii")
    with apps.meg.app_context():
        for name, email in (("boulangerie", "admin@boulangerie-martin.fr"), ("garage", "gerant@garage-leroy.fr")):
            company = meg_db.session.get(Company, world.meg[name])
            user = meg_db.session.scalar(select(User).where(User.email == email))
            filename = f"{VICTIM_MARKERS[1]}.xml" if name == "garage" else "facture-minoterie.xml"
            world.meg[f"{name}_import"] = start_import(company, user, filename, xml).id
        attach_document(meg_db.session.get(SupplierInvoice, world.meg["garage_invoice"]), DocumentFile(
            filename=f"{VICTIM_MARKERS[1]}.pdf", content_type="application/pdf", content=VICTIM_PDF))
        meg_db.session.commit()


@pytest.fixture
def world(apps) -> World:
    return populate(apps)


@pytest.fixture
def people(apps) -> World:
    """Only the people: MEG's demo data and Boulangerie Martin's Libeo account (no key, no payment)."""
    from models.meg.demo import create_demo_data

    with apps.meg.app_context():
        create_demo_data()
    world = World(apps)
    world.libeo["boulangerie"], _ = libeo_account(
        apps.libeo, "Boulangerie Martin SARL", BOULANGERIE_SIRET, "claire@boulangerie-martin.fr", key=False
    )
    world.libeo["boulangerie_email"] = "claire@boulangerie-martin.fr"
    return world
