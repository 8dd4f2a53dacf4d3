"""« Les paiements initiés par l'expert-comptable doivent être approuvés »: somebody else checks them.

With « L'expert-comptable peut approuver les paiements » too, the expert-comptable approves the account's other held
payments, never one this rule held because they asked for it (nor does whoever asked for it): only an administrator
of the account does. Refused by the model with a French reason, said on « À approuver » and the payment's page
instead of « Approuver », the payment left « À approuver ».
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.libeo import Account, LibeoUser, Payment, PaymentStatus, db
from models.libeo.errors import Forbidden
from models.libeo.payments.approvals import approve_payment
from tests.helpers import words

from .test_safeguards import admin, held, pay  # noqa: F401
from .test_separation_of_duties import ACCOUNTANT, add_user, approve, rules, signed_in, status_of

WHY = ("la règle du compte « Les paiements initiés par l'expert-comptable doivent être approuvés » demande qu'un "
       "administrateur du compte l'approuve, pas l'expert-comptable.")


def approve_button(payment_id: int) -> str:
    return f'action="/libeo/a-approuver/{payment_id}/approuver"'


@pytest.fixture
def accountant_rules(admin, client):  # noqa: F811
    """The administrator's rules: the expert-comptable's payments held, the expert-comptable an approver."""
    page = rules(client, accountant_payments="y", accountant_may_approve="y")
    assert "Les règles d'approbation sont enregistrées" in words(page)
    return admin


def test_the_expert_comptable_cannot_approve_the_payment_held_because_they_asked_for_it(accountant_rules, apps,
                                                                                        libeo_app):
    expert = signed_in(apps, add_user(libeo_app, accountant_rules.id, ACCOUNTANT, is_admin=False))
    payment = held(pay(accountant_rules.api, "meg-1", n=1, role="accountant", email=ACCOUNTANT))
    assert "Paiement initié par l'expert-comptable" in payment["hold_details"][0]

    refused = approve(expert, payment["id"])

    assert WHY in words(refused)
    assert status_of(libeo_app, payment["id"]) is PaymentStatus.AWAITING_APPROVAL


def test_the_pages_tell_them_why_instead_of_the_button(accountant_rules, apps, client, libeo_app):
    expert = signed_in(apps, add_user(libeo_app, accountant_rules.id, ACCOUNTANT, is_admin=False))
    theirs = held(pay(accountant_rules.api, "meg-1", n=1, role="accountant", email=ACCOUNTANT))
    rules(client, threshold="100", accountant_payments="y", accountant_may_approve="y")
    others = held(pay(accountant_rules.api, "meg-2", n=2))  # above 100 €, asked by the company's user

    awaiting = expert.get("/libeo/a-approuver/")
    assert WHY in words(awaiting)
    html = awaiting.get_data(as_text=True)
    assert approve_button(theirs["id"]) not in html
    assert approve_button(others["id"]) in html  # the other payments are still theirs to approve
    detail = expert.get(f"/libeo/paiements/{theirs['id']}")
    assert WHY in words(detail) and approve_button(theirs["id"]) not in detail.get_data(as_text=True)

    approve(expert, others["id"])
    assert status_of(libeo_app, others["id"]) is PaymentStatus.SCHEDULED


def test_an_administrator_approves_it(accountant_rules, client, libeo_app):
    payment = held(pay(accountant_rules.api, "meg-1", n=1, role="accountant", email=ACCOUNTANT))
    awaiting = client.get("/libeo/a-approuver/")
    assert approve_button(payment["id"]) in awaiting.get_data(as_text=True) and WHY not in words(awaiting)
    approve(client, payment["id"])
    assert status_of(libeo_app, payment["id"]) is PaymentStatus.SCHEDULED


def test_nor_when_the_expert_comptable_administers_the_account(accountant_rules, apps, libeo_app):
    """An expert-comptable with an administrator's login on the account asked for it: still not theirs."""
    expert = signed_in(apps, add_user(libeo_app, accountant_rules.id, ACCOUNTANT, is_admin=True))
    payment = held(pay(accountant_rules.api, "meg-1", n=1, role="accountant", email=ACCOUNTANT))
    assert WHY in words(approve(expert, payment["id"]))
    assert status_of(libeo_app, payment["id"]) is PaymentStatus.AWAITING_APPROVAL


def test_nor_once_the_rule_is_off(accountant_rules, apps, client, libeo_app):
    """The payment was held by the rule when it was asked for: taking the rule back later does not let the
    expert-comptable approve it."""
    expert = signed_in(apps, add_user(libeo_app, accountant_rules.id, ACCOUNTANT, is_admin=False))
    payment = held(pay(accountant_rules.api, "meg-1", n=1, role="accountant", email=ACCOUNTANT))
    rules(client, accountant_may_approve="y")
    assert WHY in words(approve(expert, payment["id"]))
    assert status_of(libeo_app, payment["id"]) is PaymentStatus.AWAITING_APPROVAL


def test_the_rule_is_the_models_not_only_the_pages(accountant_rules, libeo_app):
    payment = held(pay(accountant_rules.api, "meg-1", n=1, role="accountant", email=ACCOUNTANT))
    add_user(libeo_app, accountant_rules.id, ACCOUNTANT, is_admin=False)
    with libeo_app.app_context():
        account = db.session.get(Account, accountant_rules.id)
        expert = db.session.scalar(select(LibeoUser).where(LibeoUser.email == ACCOUNTANT))
        with pytest.raises(Forbidden, match="un administrateur du compte"):
            approve_payment(account, db.session.get(Payment, payment["id"]), expert)
