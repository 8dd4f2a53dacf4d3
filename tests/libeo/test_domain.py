"""Libeo's rules as plain functions: accounts, keys, the monthly quota, one payment per invoice."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from models.libeo import (
    Account,
    ApiKey,
    Channel,
    InitiatorRole,
    Payment,
    PaymentStatus,
    Plan,
    db,
)
from models.libeo.accounts.keys import (
    authenticate_api_key,
    issue_meg_api_key,
    revoke_api_key,
)
from models.libeo.accounts.services import add_accountant, create_account, invite_user
from models.libeo.errors import (
    Conflict,
    Forbidden,
    InvalidData,
    PlanLimitReached,
    QuotaExceeded,
)
from models.libeo.payments.order import pay_invoice
from models.libeo.payments.quota import PaymentQuota
from tests.factories import initiator, libeo_invoice

from .conftest import PASSWORD, SUPPLIER_IBAN, make_account, valid_siret

USER = initiator()


def _invoice(account, n=1):
    return libeo_invoice(account, f"F-{n}", issue_date=date(2026, 11, 1), due_date=date(2026, 11, 30),
                         amount_cents=1_000 + n)


@pytest.fixture
def account_obj(libeo_app):
    info = make_account(libeo_app)
    with libeo_app.app_context():
        yield db.session.get(Account, info.id)


def test_create_account_refusals(libeo_app):
    with libeo_app.app_context():
        create_account("Boulangerie", valid_siret(500), "a@b.fr", PASSWORD)
        db.session.commit()
        with pytest.raises(Conflict) as taken:
            create_account("Autre", valid_siret(500), "c@d.fr", PASSWORD)
        assert (taken.value.code, taken.value.field) == ("siret_taken", "siret")
        with pytest.raises(Conflict) as email:
            create_account("Autre", valid_siret(501), "A@B.fr", PASSWORD)
        assert email.value.code == "email_taken"
        with pytest.raises(InvalidData) as siret:
            create_account("Autre", "12345678901234", "e@f.fr", PASSWORD)
        assert siret.value.field == "siret"
        # Signing in through MEG only: no password at all.
        account = create_account("Sans mot de passe", valid_siret(502), "g@h.fr", None)
        assert account.users[0].password_hash is None and not account.users[0].check_password("")


def test_plans_and_their_limits():
    assert (Plan.GRATUIT.payment_limit, Plan.PARTNERSHIPS.payment_limit) == (5, None)
    assert Plan.GRATUIT.user_limit == Plan.PARTNERSHIPS.user_limit == 1
    assert Plan.GRATUIT.accountant_limit == Plan.PARTNERSHIPS.accountant_limit == 1
    assert Plan.PARTNERSHIPS.monthly_price_cents == 900
    assert Plan.from_code("Partnerships") is Plan.PARTNERSHIPS


def test_user_and_accountant_limits(account_obj):
    with pytest.raises(PlanLimitReached, match="Votre formule Gratuit inclut 1 utilisateur"):
        invite_user(account_obj, "associe@entreprise.fr")
    add_accountant(account_obj, "Expert@Cabinet.fr")
    assert account_obj.is_accountant("EXPERT@cabinet.fr")
    with pytest.raises(PlanLimitReached):
        add_accountant(account_obj, "autre@cabinet.fr")


def test_one_active_meg_key_per_account(account_obj):
    first = issue_meg_api_key(account_obj)
    second = issue_meg_api_key(account_obj)
    db.session.commit()
    assert authenticate_api_key(first) is None
    assert authenticate_api_key(second).account_id == account_obj.id
    # The database itself refuses a second usable key.
    db.session.add(ApiKey(account_id=account_obj.id, integration="meg", public_id="0123456789ab",
                          prefix="lbo_meg_0123456789ab", key_hash="0" * 64))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    revoke_api_key(account_obj)
    db.session.commit()
    assert authenticate_api_key(second) is None


def test_quota_follows_the_paris_calendar_month(account_obj):
    november = datetime(2026, 11, 15, 12, tzinfo=UTC)
    for n in range(5):
        pay_invoice(account_obj, _invoice(account_obj, n), USER, now=november)
    db.session.commit()
    quota = PaymentQuota.for_account(account_obj, november)
    assert (quota.used, quota.remaining, quota.summary) == (5, 0, "5 / 5 paiements ce mois-ci")
    sixth = _invoice(account_obj, 6)
    db.session.commit()
    last_evening = datetime(2026, 11, 30, 22, 59, tzinfo=UTC)  # 23:59 in Paris
    with pytest.raises(QuotaExceeded):
        pay_invoice(account_obj, sixth, USER, execution_date=date(2026, 12, 1), now=last_evening)
    december_in_paris = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 00:30 on 1 December
    payment = pay_invoice(account_obj, sixth, USER, now=december_in_paris)
    assert payment.execution_date == date(2026, 12, 1)
    db.session.commit()
    assert PaymentQuota.for_account(account_obj, december_in_paris).summary == "1 / 5 paiements ce mois-ci"


def test_unlimited_summary(account_obj):
    account_obj.plan = Plan.PARTNERSHIPS
    assert PaymentQuota.for_account(account_obj).summary == "0 paiement ce mois-ci — illimité"
    for n in range(12):
        pay_invoice(account_obj, _invoice(account_obj, n), USER)
    db.session.commit()
    assert PaymentQuota.for_account(account_obj).summary == "12 paiements ce mois-ci — illimité"


def test_refusals_change_nothing(account_obj):
    invoice = _invoice(account_obj)
    db.session.commit()
    with pytest.raises(Forbidden):
        pay_invoice(account_obj, invoice, initiator("expert@cabinet.fr", InitiatorRole.ACCOUNTANT))
    with pytest.raises(InvalidData):
        pay_invoice(account_obj, invoice, initiator("pas une adresse"))
    db.session.rollback()
    assert PaymentQuota.for_account(account_obj).used == 0
    pay_invoice(account_obj, invoice, USER)
    db.session.commit()
    with pytest.raises(Conflict):
        pay_invoice(account_obj, invoice, USER)
    assert PaymentQuota.for_account(account_obj).used == 1


def test_the_database_allows_one_active_payment_per_invoice(account_obj):
    invoice = _invoice(account_obj)
    first = pay_invoice(account_obj, invoice, USER)
    db.session.commit()

    def duplicate(status):
        return Payment(account_id=account_obj.id, invoice_id=invoice.id, status=status, amount_cents=1,
                       currency="EUR", execution_date=date(2026, 11, 1), creditor_name="x",
                       creditor_iban=SUPPLIER_IBAN, initiated_by_email="a@b.fr",
                       initiated_by_role=InitiatorRole.USER, channel=Channel.MEG)

    db.session.add(duplicate(PaymentStatus.CANCELLED))
    db.session.flush()  # inactive payments are history, as many as needed
    db.session.add(duplicate(PaymentStatus.PAID))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    first.status = PaymentStatus.FAILED
    db.session.add(duplicate(PaymentStatus.SCHEDULED))
    db.session.flush()


def test_a_payments_words_are_one_function_of_its_state_in_paris_time():
    from types import SimpleNamespace

    from models.libeo.payments.models import payment_status_label

    def words(status, **recorded):
        fields = {"execution_date": date(2027, 1, 4), "paid_at": None, "paid_on": None, "failure_reason": None,
                  "transmitted_at": None, "accepted_at": None, "bank_status": None, "cancel_reason": None}
        return payment_status_label(SimpleNamespace(status=status, **{**fields, **recorded}))

    new_year_in_paris = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January in Paris
    assert words(PaymentStatus.SCHEDULED) == "Programmé le 04/01/2027"
    assert words(PaymentStatus.FILE_READY) == "Fichier prêt — à transmettre à votre banque"
    assert words(PaymentStatus.TRANSMITTED, transmitted_at=new_year_in_paris) == "Transmis à la banque le 01/01/2027"
    assert words(PaymentStatus.ACCEPTED, accepted_at=new_year_in_paris, bank_status="ACSP") == (
        "Accepté par la banque le 01/01/2027 (ACSP)")
    assert words(PaymentStatus.PAID, paid_on=date(2027, 1, 4), paid_at=new_year_in_paris) == "Débité le 04/01/2027"
    # SQLite hands back naive UTC datetimes: the same day.
    naive = new_year_in_paris.replace(tzinfo=None)
    assert words(PaymentStatus.PAID, paid_at=naive) == "Débité le 01/01/2027"
    assert words(PaymentStatus.TRANSMITTED, transmitted_at=naive) == "Transmis à la banque le 01/01/2027"
    rejected = "Rejeté : provision insuffisante (AM04)"
    assert words(PaymentStatus.FAILED, failure_reason=rejected) == rejected
    assert words(PaymentStatus.FAILED, failure_reason="IBAN inconnu") == "Rejeté : IBAN inconnu"
    assert words(PaymentStatus.CANCELLED) == "Annulé"


def test_cancelling_gives_the_slot_back_to_the_month_it_was_counted_in(account_obj):
    from models.libeo.payments.order import cancel_payment

    november = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # 23:30 in Paris, still November
    payment = pay_invoice(account_obj, _invoice(account_obj), USER, execution_date=date(2026, 12, 1), now=november)
    db.session.commit()
    december = datetime(2026, 12, 2, 9, tzinfo=UTC)
    pay_invoice(account_obj, _invoice(account_obj, 2), USER, execution_date=date(2026, 12, 2), now=december)
    db.session.commit()
    cancel_payment(account_obj, payment)
    db.session.commit()
    assert PaymentQuota.for_account(account_obj, november).used == 0
    assert PaymentQuota.for_account(account_obj, december).used == 1
    with pytest.raises(Conflict):
        cancel_payment(account_obj, payment)  # cancelled once: the slot is given back once
    assert PaymentQuota.for_account(account_obj, november).used == 0
