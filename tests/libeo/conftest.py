"""Factories and fixtures for Libeo's tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

import pytest
from schwifty import IBAN
from sqlalchemy import event, select, update
from stdnum import luhn

from core.calendar import previous_business_day
from core.dates import paris_today
from models.libeo import Plan, db
from models.libeo.accounts.keys import issue_meg_api_key
from models.libeo.accounts.services import create_account, verify_account
from tests.conftest import meg_initiator

INITIATOR_HEADER = "MEG-Initiator"

PASSWORD = "libeo-test-2026"
_numbers = itertools.count(1)


def valid_siret(n: int) -> str:
    siren = f"{73222800 + n:08d}"
    siren += luhn.calc_check_digit(siren)
    base = f"{siren}{n % 10000:04d}"
    return base + luhn.calc_check_digit(base)


def valid_iban(n: int) -> str:
    return IBAN.generate("FR", bank_code="30006", account_code=f"{n:011d}").compact


# The business day the SEPA files of these tests are executed on: today, or the last one before a
# weekend or a closing day (a debit is never after today, nor before the execution date).
def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    return {"RUN_DAY": previous_business_day(paris_today())}


(RUN_DAY,) = dated_constants().values()
SUPPLIER_IBAN = valid_iban(1_234_567)
DEBTOR_IBAN = valid_iban(7_654_321)


@dataclass
class AccountInfo:
    id: int
    name: str
    siret: str
    email: str


def make_account(libeo_app, *, name: str | None = None, plan: Plan = Plan.GRATUIT, accountant: str | None = None,
                 debtor_iban: str | None = None, verified: bool = True) -> AccountInfo:
    """An account signed up in Libeo; ``verified`` as support makes it (its SEPA files are executed)."""
    n = next(_numbers)
    name = name or f"Entreprise {n}"
    email = f"gerant{n}@entreprise{n}.fr"
    with libeo_app.app_context():
        account = create_account(name, valid_siret(n), email, PASSWORD, full_name=f"Gérant {n}", plan=plan)
        account.accountant_email = accountant
        account.debtor_iban = debtor_iban
        if verified:
            verify_account(account, "vérifié par le support de Libeo", "tests")
        db.session.commit()
        return AccountInfo(account.id, account.name, account.siret, email)


def backdate_due_payments(libeo_app, day: date | None = None) -> None:
    """Scheduled payments become due on ``day``, as if scheduled for it days ago (dates are checked against
    today when a payment is asked for, so a test cannot ask for a past one)."""
    from models.libeo import Payment, PaymentStatus

    day = day or RUN_DAY
    with libeo_app.app_context():
        db.session.execute(update(Payment)
                           .where(Payment.status == PaymentStatus.SCHEDULED, Payment.execution_date > day)
                           .values(execution_date=day))
        db.session.commit()


def make_key(libeo_app, account_id: int) -> str:
    from models.libeo import Account

    with libeo_app.app_context():
        key = issue_meg_api_key(db.session.get(Account, account_id))
        db.session.commit()
        return key


def invoice_body(n: int = 1, **changes) -> dict:
    body = {
        "number": f"F-2026-{n:03d}",
        "supplier": {"name": "Minoterie Dupuis", "iban": SUPPLIER_IBAN, "bic": "AGRIFRPP"},
        "amount_cents": 48_650 + n,
        "currency": "EUR",
        "issue_date": "2026-10-01",
        "due_date": "2026-10-31",
    }
    body.update(changes)
    return body


def pay_body(email: str = "compta@entreprise.fr", role: str = "user", **changes) -> dict:
    return {"initiated_by": {"email": email, "role": role}, **changes}


class Api:
    """Calls Libeo's REST API through the combined app, with a key.

    A payment or a cancellation carries MEG's signed word on who asks (``MEG-Initiator``) for the person and role
    its body names, as MEG's client sends it, unless the test gives its own header (``signed=False``: none).
    """

    PREFIX = "/libeo/api/v1"

    def __init__(self, client, key: str | None, *, signed: bool = True) -> None:
        self.client = client
        self.key = key
        self.signed = signed

    def initiator_for(self, path: str, json) -> str | None:
        """MEG's assertion for who the body of a payment, batch or cancellation names; None if it names nobody."""
        if not (self.signed and self.key and isinstance(json, dict)):
            return None
        claimed = json.get("cancelled_by") if path.endswith("/cancel") else json.get("initiated_by")
        if path == "/payment-batches":
            items = json.get("items") if isinstance(json.get("items"), list) else []
            payments = [item.get("payment") for item in items if isinstance(item, dict)]
            claimed = next((payment.get("initiated_by") for payment in payments if isinstance(payment, dict)), None)
        if not (isinstance(claimed, dict) and isinstance(claimed.get("email"), str)
                and claimed.get("role") in ("user", "accountant")):
            return None
        return meg_initiator(self.client.application, self.siret(), claimed["email"], claimed["role"])

    def siret(self) -> str | None:
        from models.libeo import Account, ApiKey
        from models.libeo.accounts.keys import public_id_of

        libeo = self.client.application.extensions["sides"]["libeo"]
        with libeo.app_context():
            return db.session.scalar(select(Account.siret).join(ApiKey, ApiKey.account_id == Account.id)
                                     .where(ApiKey.public_id == public_id_of(self.key)))

    def headers(self, extra: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        headers.update(extra or {})
        return headers

    def get(self, path: str, **kwargs):
        return self.client.get(self.PREFIX + path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def put(self, path: str, json=None, **kwargs):
        return self.client.put(self.PREFIX + path, json=json, headers=self.headers(kwargs.pop("headers", None)),
                               **kwargs)

    def post(self, path: str, json=None, **kwargs):
        headers = self.headers(kwargs.pop("headers", None))
        if INITIATOR_HEADER not in headers and (path.endswith(("/payments", "/cancel")) or path == "/payment-batches"):
            initiator = self.initiator_for(path, json)
            if initiator:
                headers[INITIATOR_HEADER] = initiator
        return self.client.post(self.PREFIX + path, json=json, headers=headers, **kwargs)

    def put_invoice(self, external_id: str, **changes):
        return self.put(f"/invoices/{external_id}", json=invoice_body(**changes))

    def pay(self, external_id: str, key: str = "idem-1", body: dict | None = None):
        return self.post(
            f"/invoices/{external_id}/payments", json=pay_body() if body is None else body,
            headers={"Idempotency-Key": key}
        )


@pytest.fixture
def account(libeo_app) -> AccountInfo:
    return make_account(libeo_app, name="Boulangerie Martin SARL")


@pytest.fixture
def api_key(libeo_app, account) -> str:
    return make_key(libeo_app, account.id)


@pytest.fixture
def api(client, api_key) -> Api:
    return Api(client, api_key)


class LibeoAuth:
    def __init__(self, client) -> None:
        self.client = client

    def login(self, email: str, password: str = PASSWORD):
        return self.client.post("/libeo/connexion", data={"email": email, "password": password})

    def logout(self):
        return self.client.post("/libeo/deconnexion")


@pytest.fixture
def libeo_auth(client) -> LibeoAuth:
    return LibeoAuth(client)


@pytest.fixture
def signed_in(libeo_auth, account) -> AccountInfo:
    libeo_auth.login(account.email)
    return account


class QueryCounter:
    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args):
        self.count += 1


def count_queries(libeo_app, client, path) -> int:
    """The SQL statements a GET of ``path`` runs (it must answer 200)."""
    with libeo_app.app_context():
        engine = db.engine
    with QueryCounter(engine) as counter:
        assert client.get(path).status_code == 200
    return counter.count
