"""SQL statements per page and API call do not grow with the data.

Each request is measured twice: with the demo's few rows, then after both
databases received many more (invoices of the same company and of others,
payments and attempts in every state, more suppliers). The number of SQL
statements (BEGIN excluded, per side) must be the same: a query per row
(an N+1) makes the second count larger. ``python -m bench`` measures the
same requests under load at 1,000 and 100,000 invoices.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select
from stdnum import luhn

from core.db import WRITE_STATEMENTS
from models.libeo import db as libeo_db
from models.meg import db as meg_db
from tests.conftest import MegAuth, meg_initiator

BOULANGERIE = "Boulangerie Martin SARL"
BOULANGERIE_SIRET = "83451234500002"
LIBEO_EMAIL = "claire@boulangerie-martin.fr"
LIBEO_PASSWORD = "mot-de-passe-solide-42"
MANY = 60


class SqlCounter:
    """Counts the statements and commits each side's engine runs while ``measure`` calls a request."""

    def __init__(self, apps) -> None:
        self.counts: dict[str, int] | None = None
        for side, app, db in (("meg", apps.meg, meg_db), ("libeo", apps.libeo, libeo_db)):
            with app.app_context():
                event.listen(db.engine, "before_cursor_execute", self._hook(side))
                event.listen(db.engine, "commit", self._commit_hook(side))
                event.listen(db.engine, "rollback", lambda conn: conn.info.pop("wrote", None))

    def _commit_hook(self, side: str):
        # A commit that ends a transaction which only read writes nothing: not counted.
        def count(conn):
            if conn.info.pop("wrote", False) and self.counts is not None:
                self.counts[f"{side}_commits"] += 1

        return count

    def _hook(self, side: str):
        def count(conn, cursor, statement, parameters, context, executemany):
            words = statement.lstrip()[:7].upper()
            if words.startswith(WRITE_STATEMENTS):
                conn.info["wrote"] = True
            if self.counts is not None and not words.startswith("BEGIN"):
                self.counts[side] += 1

        return count

    def measure(self, request) -> tuple[object, dict[str, int]]:
        self.counts = {"meg": 0, "libeo": 0, "meg_commits": 0, "libeo_commits": 0}
        try:
            response = request()
        finally:
            counts, self.counts = self.counts, None
        return response, counts


class World:
    """Boulangerie Martin in MEG and in Libeo (Partnerships), connected, both users signed in."""

    def __init__(self, apps, client, meg_auth) -> None:
        from models.libeo import Plan
        from models.libeo.accounts.keys import issue_meg_api_key
        from models.libeo.accounts.services import create_account

        self.apps, self.client = apps, client
        with apps.libeo.app_context():
            account = create_account(BOULANGERIE, BOULANGERIE_SIRET, LIBEO_EMAIL, LIBEO_PASSWORD,
                                     full_name="Claire Martin", plan=Plan.PARTNERSHIPS)
            libeo_db.session.commit()
            self.account_id = account.id
            self.api_key = issue_meg_api_key(account)
            libeo_db.session.commit()
        assert meg_auth.login().status_code == 302
        self.accountant = apps.root.test_client()
        assert MegAuth(self.accountant).login("expert@cabinet-durand.fr").status_code == 302
        with apps.meg.app_context():
            from models.meg import Company

            boulangerie = meg_db.session.scalar(select(Company.id).where(Company.name == BOULANGERIE))
        assert self.accountant.post("/meg/entreprise", data={"company_id": boulangerie}).status_code == 302
        self.accountant.get("/meg/achats/")  # shows (and so drops) the switch's flash message
        response = client.post("/meg/achats/options", data={"api_key": self.api_key})
        assert response.status_code == 302, response.get_data(as_text=True)
        response = client.post("/libeo/connexion", data={"email": LIBEO_EMAIL, "password": LIBEO_PASSWORD})
        assert response.status_code == 302
        self.fresh_meg_invoices = self._unpaid_libeo_invoices()
        # An invoice whose payment was cancelled, to settle again: the few rows hold every kind of row
        # the many do (« Factures » filtered reads the payments of the invoices once sent to Libeo).
        self._cancelled_once(self.fresh_meg_invoices.pop(0))
        # First payments of the month create their counters: done once before measuring.
        self.detail_id = self.meg_pay_next()
        self.libeo_payment_id = self.libeo_pay_fresh().get_json()["id"]

    @property
    def api(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"}

    def _unpaid_libeo_invoices(self) -> list[int]:
        from models.meg import Company, PaymentMode, SupplierInvoice
        from models.meg.libeo_link.attempts import PaymentAttempt

        with self.apps.meg.app_context():
            company = meg_db.session.scalar(select(Company).where(Company.name == BOULANGERIE))
            return list(meg_db.session.scalars(
                select(SupplierInvoice.id).where(
                    SupplierInvoice.company_id == company.id, SupplierInvoice.payment_mode == PaymentMode.LIBEO,
                    SupplierInvoice.paid_at.is_(None),
                    ~SupplierInvoice.id.in_(select(PaymentAttempt.invoice_id)),
                ).order_by(SupplierInvoice.id.desc())
            ))

    def _cancelled_once(self, invoice_id: int) -> None:
        from models.meg import User
        from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState

        with self.apps.meg.app_context():
            admin = meg_db.session.scalar(select(User).where(User.email == "admin@boulangerie-martin.fr"))
            meg_db.session.add(PaymentAttempt(invoice_id=invoice_id, idempotency_key=uuid.uuid4().hex,
                                              status=PaymentState.CANCELLED, requested_by_id=admin.id,
                                              cancel_reason="Annulé dans Libeo."))
            meg_db.session.commit()

    def meg_pay_next(self) -> int:
        invoice_id = self.fresh_meg_invoices.pop()
        response = self.client.post(f"/meg/achats/factures/{invoice_id}/payer", data={"next": "/meg/achats/reglements"})
        assert response.status_code == 302
        assert self._meg_payment_status(invoice_id) == "SCHEDULED"
        return invoice_id

    def _meg_payment_status(self, invoice_id: int) -> str | None:
        from models.meg.libeo_link.attempts import PaymentAttempt

        with self.apps.meg.app_context():
            status = meg_db.session.scalar(select(PaymentAttempt.status).where(PaymentAttempt.invoice_id == invoice_id))
            return status.name if status else None

    def libeo_put_fresh(self):
        external_id = f"meg-test-{uuid.uuid4().hex[:12]}"
        body = {
            "number": f"T-{external_id[-6:]}", "amount_cents": 12_345, "currency": "EUR",
            "supplier": {"name": "Minoterie Dupuis", "iban": "FR7630006000010000000791963", "bic": "AGRIFRPPXXX"},
            "issue_date": date.today().isoformat(), "due_date": (date.today() + timedelta(days=30)).isoformat(),
        }
        response = self.client.put(f"/libeo/api/v1/invoices/{external_id}", json=body, headers=self.api)
        assert response.status_code == 201, response.get_json()
        return external_id, response

    def libeo_pay_fresh(self):
        external_id, _ = self.libeo_put_fresh()
        return self.libeo_pay(external_id)

    def libeo_pay(self, external_id: str):
        response = self.client.post(
            f"/libeo/api/v1/invoices/{external_id}/payments",
            json={"initiated_by": {"email": "admin@boulangerie-martin.fr", "role": "user"}},
            headers={**self.api, "Idempotency-Key": uuid.uuid4().hex,
                     "MEG-Initiator": meg_initiator(self.client.application, BOULANGERIE_SIRET,
                                                    "admin@boulangerie-martin.fr")},
        )
        assert response.status_code == 201, response.get_json()
        return response

    def grow(self) -> None:
        """Many more rows on both sides, in every state the pages show."""
        _grow_meg(self.apps.meg)
        _grow_libeo(self.apps.libeo, self.account_id)
        self.fresh_meg_invoices = self._unpaid_libeo_invoices()


def _grow_meg(meg_app) -> None:
    from models.meg import Company, PaymentMode, Supplier, User
    from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState
    from tests.factories import meg_invoice

    modes = list(PaymentMode)
    statuses = [PaymentState.SCHEDULED, PaymentState.FAILED, PaymentState.CANCELLED, PaymentState.REQUESTED, None]
    today = date.today()
    with meg_app.app_context():
        admin = meg_db.session.scalar(select(User).where(User.email == "admin@boulangerie-martin.fr"))
        firm_id = meg_db.session.scalar(select(Company.accounting_firm_id).where(Company.name == BOULANGERIE))
        # More client companies for the accountant's company switcher.
        for k in range(10):
            base = f"9000000{k}0001"
            meg_db.session.add(Company(name=f"Client ajouté {k}", siret=base + luhn.calc_check_digit(base),
                                       accounting_firm_id=firm_id))
        for company in meg_db.session.scalars(select(Company).where(Company.siret.is_not(None))).all():
            suppliers = [Supplier(company=company, name=f"Fournisseur ajouté {k}", iban="FR7630006000010000000791963",
                                  bic="AGRIFRPPXXX") for k in range(5)]
            meg_db.session.add_all(suppliers)
            for k in range(MANY):
                issued = today - timedelta(days=k % 50)
                invoice = meg_invoice(company, suppliers[k % 5], f"G-{k:04d}", issue_date=issued,
                                      amount_cents=1_000 + k, payment_mode=modes[k % len(modes)])
                status = statuses[k % len(statuses)]
                if invoice.payment_mode is PaymentMode.LIBEO and status is not None:
                    meg_db.session.flush()
                    meg_db.session.add(PaymentAttempt(invoice_id=invoice.id, idempotency_key=uuid.uuid4().hex,
                                                    status=status, requested_by_id=admin.id,
                                                    libeo_payment_id=None))
        meg_db.session.commit()


def _grow_libeo(libeo_app, account_id: int) -> None:
    from models.libeo import (
        Account,
        Channel,
        InitiatorRole,
        Invoice,
        InvoiceSource,
        InvoiceStatus,
        Payment,
        PaymentStatus,
        Plan,
    )

    today = date.today()
    with libeo_app.app_context():
        other = Account(name="Garage Leroy SAS", siret="85123456700002", plan=Plan.GRATUIT)
        libeo_db.session.add(other)
        for account in (libeo_db.session.get(Account, account_id), other):
            for k in range(MANY):
                paid = k % 3 == 0
                invoice = Invoice(
                    account=account, source=InvoiceSource.MEG if k % 2 else InvoiceSource.LIBEO,
                    external_id=f"grown-{account.siret}-{k}" if k % 2 else None, number=f"G-{k:04d}",
                    supplier_name=f"Fournisseur {k % 7}", supplier_iban="FR7630006000010000000791963",
                    supplier_bic="AGRIFRPPXXX", issue_date=today - timedelta(days=k % 50),
                    due_date=today + timedelta(days=10), amount_cents=2_000 + k,
                    status=InvoiceStatus.PAID if paid else InvoiceStatus.TO_PAY,
                )
                libeo_db.session.add(invoice)
                if paid:
                    libeo_db.session.add(Payment(
                        account=account, invoice=invoice, status=PaymentStatus.PAID, amount_cents=invoice.amount_cents,
                        execution_date=today, creditor_name=invoice.supplier_name,
                        creditor_iban=invoice.supplier_iban, creditor_bic=invoice.supplier_bic,
                        initiated_by_email=LIBEO_EMAIL, initiated_by_role=InitiatorRole.USER, channel=Channel.LIBEO,
                    ))
        libeo_db.session.commit()


def _get(path: str, status: int = 200):
    def call(world: World):
        response = world.client.get(path, headers=world.api if path.startswith("/libeo/api/") else None)
        assert response.status_code == status, path
        return response

    return call


def _meg_invoice_detail(world: World):
    response = world.client.get(f"/meg/achats/factures/{world.detail_id}")
    assert response.status_code == 200
    return response


def _accountant_settlements(world: World):
    response = world.accountant.get("/meg/achats/reglements")
    assert response.status_code == 200
    return response


def _libeo_api_payment(world: World):
    response = world.client.get(f"/libeo/api/v1/payments/{world.libeo_payment_id}", headers=world.api)
    assert response.status_code == 200
    return response


def _libeo_api_put(world: World):
    return world.libeo_put_fresh()[1]


REQUESTS = {
    "meg_settlements": _get("/meg/achats/reglements"),
    "meg_settlements_accountant": _accountant_settlements,
    "meg_invoices": _get("/meg/achats/"),
    "meg_invoice_detail": _meg_invoice_detail,
    "meg_suppliers": _get("/meg/achats/fournisseurs"),
    "meg_pay": World.meg_pay_next,
    "libeo_invoices": _get("/libeo/factures/"),
    "libeo_payments": _get("/libeo/paiements/"),
    # Searched, filtered and sorted lists read as many statements as the plain ones.
    "meg_settlements_filtered": _get("/meg/achats/reglements?q=E&mode=libeo&au=2099-12-31&min=10&tri=-montant"),
    "meg_invoices_filtered": _get("/meg/achats/?q=E&etat=a_regler&mode=libeo&au=2099-12-31&tri=-montant"),
    "libeo_invoices_filtered": _get("/libeo/factures/?q=G-00&etat=a_payer&au=2099-12-31&tri=fournisseur&page=2"),
    "libeo_payments_searched": _get("/libeo/paiements/?q=fournisseur 1&etat=payes&max=100 000&tri=-montant"),
    "libeo_api_me": _get("/libeo/api/v1/me"),
    "libeo_api_put_invoice": _libeo_api_put,
    "libeo_api_pay": None,  # the PUT before it is not counted, see below
    "libeo_api_payment": _libeo_api_payment,
}


def _sql(meg: int = 0, libeo: int = 0, meg_commits: int = 0, libeo_commits: int = 0) -> dict[str, int]:
    return {"meg": meg, "libeo": libeo, "meg_commits": meg_commits, "libeo_commits": libeo_commits}


# The guard (README « Benchmark »): a page reads the user with their companies and roles (one statement),
# the connection, one page of rows with their count, and their payments; API reads commit nothing (`GET /me`
# is one statement); the API calls that act on the account (send an invoice, pay) read it with the key, in
# the same statement; « Payer » commits twice on each side (commits of transactions that wrote: on SQLite, MEG's
# « Payer » also ends its reading before its writes, which writes nothing). MEG records Libeo's answer
# with a conditional UPDATE of its own (only over an older version), after the connection's changes.
EXPECTED = {
    "meg_settlements": _sql(meg=4),
    "meg_settlements_accountant": _sql(meg=4),
    # MEG's and Libeo's « Factures » (each product's home) also sum up « Cette semaine » (two aggregates) and
    # count the rows of each state tab (one GROUP BY): one statement in MEG, three in Libeo.
    "meg_invoices": _sql(meg=5),
    "meg_invoice_detail": _sql(meg=5),
    "meg_suppliers": _sql(meg=3),
    # Filtered, « Factures » also counts the filter's payable invoices for « Sélectionner les N factures du
    # filtre » (one aggregate); some of them once sent to Libeo (the rows hold a cancelled payment), it
    # reads them and their payments.
    "meg_invoices_filtered": _sql(meg=8),
    # « Payer » also counts the payment in the plan's quota MEG shows (one UPDATE of the connection), and
    # stores the invoice's state when the attempt is written and when Libeo's answer is (one UPDATE each).
    "meg_pay": _sql(meg=12, libeo=14, meg_commits=2, libeo_commits=2),
    # Libeo's lists also count the rows of each state tab (one GROUP BY). Every Libeo page reads the
    # person with the account and the header's « À approuver » counter (one statement).
    "libeo_invoices": _sql(libeo=7),
    "libeo_payments": _sql(libeo=3),
    "meg_settlements_filtered": _sql(meg=4),
    "libeo_invoices_filtered": _sql(libeo=7),
    "libeo_payments_searched": _sql(libeo=3),
    "libeo_api_me": _sql(libeo=1),  # the key, its account and the month's payment count together
    "libeo_api_put_invoice": _sql(libeo=4, libeo_commits=1),
    # Its payments are held (the same amount to the same supplier: a possible duplicate), so it also
    # writes the administrators' e-mail « 1 paiement à approuver » (one INSERT … SELECT).
    "libeo_api_pay": _sql(libeo=14, libeo_commits=2),
    "libeo_api_payment": _sql(libeo=2),
}


@pytest.fixture
def world(apps, client, demo, meg_auth):
    return World(apps, client, meg_auth)


@pytest.mark.parametrize("name", list(REQUESTS))
def test_query_count_does_not_grow_with_data(apps, world, name):
    counter = SqlCounter(apps)

    def measure() -> dict[str, int]:
        if name == "libeo_api_pay":
            external_id, _ = world.libeo_put_fresh()
            return counter.measure(lambda: world.libeo_pay(external_id))[1]
        return counter.measure(lambda: REQUESTS[name](world))[1]

    few = measure()
    world.grow()
    many = measure()
    assert sum(few.values()) > 0
    assert many == few, f"{name}: {few} statements with few rows, {many} with many"
    assert few == EXPECTED[name], f"{name}: {few}, the guard says {EXPECTED[name]} (update it if the change is meant)"


def _meg_pay_selection(world: World, supplier: str, account: int, size: int):
    """« Confirmer les N paiements » of ``size`` new invoices of a new supplier (its IBAN seen for the first time)."""
    from schwifty import IBAN

    from models.meg import Company, Supplier
    from tests.factories import meg_invoice

    with world.apps.meg.app_context():
        company = meg_db.session.scalar(select(Company).where(Company.name == BOULANGERIE))
        iban = IBAN.generate("FR", bank_code="30006", account_code=f"{account:011d}").compact
        payee = Supplier(company=company, name=supplier, iban=iban, bic="AGRIFRPPXXX")
        invoices = [meg_invoice(company, payee, f"S-{supplier[:4]}-{k}", amount_cents=5_000 + 7 * k,
                                issue_date=date.today() - timedelta(days=20 * k)) for k in range(size)]
        meg_db.session.commit()
        chosen = [invoice.id for invoice in invoices]

    def confirm():
        response = world.client.post("/meg/achats/reglements/selection/confirmer",
                                     data={"facture": [str(invoice_id) for invoice_id in chosen]})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    return confirm


def test_a_selection_runs_as_many_statements_whatever_its_size(apps, world):
    """« Payer la sélection »: neither side's statements grow with the invoices selected, nor with the data.

    Libeo reads what every item's checks need once (keys, invoices, their payments, the safeguards' rows),
    decides each item in turn in Python and writes each table once; MEG opens every attempt in one
    INSERT and records every answer in one UPDATE.
    """
    counter = SqlCounter(apps)
    few = counter.measure(_meg_pay_selection(world, "Laiterie des Ardennes", 81, 2))[1]
    world.grow()
    two = counter.measure(_meg_pay_selection(world, "Scierie du Morvan", 82, 2))[1]
    twenty = counter.measure(_meg_pay_selection(world, "Transports Quercy Express", 83, 20))[1]
    assert few == two == twenty, f"2 invoices: {few}, with many rows: {two}, 20 invoices: {twenty}"
    assert few == SELECTION, f"{few}, the guard says {SELECTION} (update it if the change is meant)"


# MEG: the user with their companies, the connection and invoices, the attempts (read, then one INSERT), their
# answers (one UPDATE, the invoices' files, their queued updates superseded), the invoices' states stored after each
# write of the attempts (one UPDATE each). Libeo: the key, the month's counter, the
# items' keys, invoices and safeguards' rows (known IBANs, possible duplicates) read once, then one statement
# per table: the keys' claims, invoices, payments, the counter, the supplier's IBAN (first seen) and its
# « Journal » entry, the events' numbers, the events, the keys' answers.
SELECTION = _sql(meg=11, libeo=15, meg_commits=2, libeo_commits=1)
