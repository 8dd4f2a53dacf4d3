"""Separation of duties: the account says who may approve a held payment, and how many must.

- « La personne qui a demandé un paiement ne peut pas l'approuver »;
- « Au-delà de … €, deux approbateurs sont nécessaires » (« 1 approbation sur 2 »);
- « L'expert-comptable peut approuver les paiements », or not, even as an administrator.
Enforced by the model (``approve_payment``), said on « À approuver » and the payment's page, journaled.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.libeo import Account, LibeoUser, Payment, PaymentStatus, db
from models.libeo.errors import Conflict, Forbidden
from models.libeo.payments.approvals import approve_payment
from tests.factories import libeo_user

from .conftest import PASSWORD
from .test_safeguards import admin, held, pay, scheduled, text  # noqa: F401

ACCOUNTANT = "expert@cabinet-durand.fr"  # the account's expert-comptable in ``admin``
RULES = "/libeo/configuration/approbations"


def rules(client, **changes):
    data = {"threshold": "", "dual_threshold": ""}
    data.update({name: value for name, value in changes.items() if value is not None})
    return client.post(RULES, data=data, follow_redirects=True)


def add_user(libeo_app, account_id: int, email: str, *, is_admin: bool) -> str:
    """Another person with a Libeo login on the account (the plans allow one user: made here directly)."""
    with libeo_app.app_context():
        libeo_user(account_id, email, is_admin=is_admin)
        db.session.commit()
    return email


def signed_in(apps, email: str):
    browser = apps.root.test_client()
    assert browser.post("/libeo/connexion", data={"email": email, "password": PASSWORD}).status_code == 302
    return browser


def status_of(libeo_app, payment_id: int) -> PaymentStatus:
    with libeo_app.app_context():
        return db.session.get(Payment, payment_id).status


def journal_text(client) -> str:
    return " ".join(text(client.get("/libeo/journal/")).split())


def approve(browser, payment_id: int):
    return browser.post(f"/libeo/a-approuver/{payment_id}/approuver", follow_redirects=True)


# --- the requester never approves ------------------------------------------------------------------


def test_the_requester_cannot_approve_their_own_payment(admin, client, libeo_app):  # noqa: F811
    page = rules(client, threshold="100", approver_not_requester="y")
    assert "la personne qui a demandé un paiement ne peut pas l'approuver" in journal_text(client)
    assert "Les règles d'approbation sont enregistrées" in text(page)
    payment = held(pay(admin.api, "meg-1", n=1, email=admin.email))  # the administrator asked through MEG

    awaiting = " ".join(text(client.get("/libeo/a-approuver/")).split())
    assert "Vous avez demandé ce paiement : un autre approbateur doit l'approuver." in awaiting
    assert f'/libeo/a-approuver/{payment["id"]}/approuver"' not in awaiting  # no « Approuver » for them
    refused = approve(client, payment["id"])
    assert "Vous avez demandé ce paiement : un autre approbateur doit l'approuver." in text(refused)
    assert status_of(libeo_app, payment["id"]) is PaymentStatus.AWAITING_APPROVAL


def test_the_rule_is_the_models_not_only_the_pages(admin, client, libeo_app):  # noqa: F811
    rules(client, threshold="100", approver_not_requester="y")
    payment = held(pay(admin.api, "meg-1", n=1, email=admin.email.upper()))  # written otherwise: the same person
    with libeo_app.app_context():
        account = db.session.get(Account, admin.id)
        user = db.session.scalar(select(LibeoUser).where(LibeoUser.email == admin.email))
        with pytest.raises(Forbidden, match="Vous avez demandé ce paiement"):
            approve_payment(account, db.session.get(Payment, payment["id"]), user)


def test_another_approver_approves_what_the_requester_asked_for(admin, apps, client, libeo_app):  # noqa: F811
    rules(client, threshold="100", approver_not_requester="y")
    other = signed_in(apps, add_user(libeo_app, admin.id, "associe@entreprise.fr", is_admin=True))
    payment = held(pay(admin.api, "meg-1", n=1, email=admin.email))
    assert "Paiement de la facture F-2026-001" in text(approve(other, payment["id"]))
    assert status_of(libeo_app, payment["id"]) is PaymentStatus.SCHEDULED


def test_without_the_rule_the_requester_may_approve(admin, client, libeo_app):  # noqa: F811
    rules(client, threshold="100")
    payment = held(pay(admin.api, "meg-1", n=1, email=admin.email))
    approve(client, payment["id"])
    assert status_of(libeo_app, payment["id"]) is PaymentStatus.SCHEDULED


# --- two approvers above an amount ---------------------------------------------------------------


def test_above_the_amount_two_different_approvers_are_needed(admin, apps, client, libeo_app):  # noqa: F811
    page = rules(client, dual_threshold="1 000")
    # One person can approve on this account so far: said when the rule is saved.
    assert "une seule personne peut approuver sur ce compte" in " ".join(text(page).split())
    assert "au-delà de 1 000,00 €, deux approbateurs sont nécessaires" in journal_text(client).replace("\u202f", " ")
    below = scheduled(pay(admin.api, "meg-1", n=1, amount_cents=100_000))  # 1 000,00 €: not above
    payment = held(pay(admin.api, "meg-2", n=2, amount_cents=150_000))
    assert payment["hold_reasons"] == ["approval_rule"]
    assert "la règle du compte demande que deux approbateurs approuvent ce paiement" in payment["hold_details"][0]
    assert "0 approbation sur 2" in text(client.get("/libeo/a-approuver/"))

    first = approve(client, payment["id"])
    assert "est enregistrée (1 approbation sur 2) : il attend l'approbation d'un autre approbateur" in text(first)
    assert status_of(libeo_app, payment["id"]) is PaymentStatus.AWAITING_APPROVAL
    awaiting = text(client.get("/libeo/a-approuver/"))
    assert "1 approbation sur 2" in awaiting and f"approuvé par {admin.email}" in awaiting
    assert "Vous avez déjà approuvé ce paiement : il attend l'approbation d'un autre approbateur." in awaiting
    assert "Vous avez déjà approuvé ce paiement" in text(approve(client, payment["id"]))  # not twice
    assert admin.api.get(f"/payments/{payment['id']}").json["status"] == "awaiting_approval"

    second = signed_in(apps, add_user(libeo_app, admin.id, "associe@entreprise.fr", is_admin=True))
    approve(second, payment["id"])
    assert status_of(libeo_app, payment["id"]) is PaymentStatus.SCHEDULED
    journal = journal_text(client)
    assert "approuvé : 1 approbation sur 2, en attente d'un autre approbateur." in journal
    assert "approuvé (approbation 2 sur 2) : programmé le" in journal
    assert below["status"] == "scheduled"


def test_the_second_approval_counted_after_the_payment_was_refused_is_a_conflict(admin, apps, client,  # noqa: F811
                                                                                  libeo_app):
    rules(client, dual_threshold="1 000")
    payment = held(pay(admin.api, "meg-1", n=1, amount_cents=150_000))
    approve(client, payment["id"])
    client.post(f"/libeo/a-approuver/{payment['id']}/refuser", data={"reason": "Facture contestée"})
    with libeo_app.app_context():
        user = libeo_user(admin.id, "associe@entreprise.fr", is_admin=True, password=None)
        db.session.flush()
        with pytest.raises(Conflict, match="n'est plus à approuver"):
            approve_payment(db.session.get(Account, admin.id), db.session.get(Payment, payment["id"]), user)
    assert status_of(libeo_app, payment["id"]) is PaymentStatus.CANCELLED


# --- the expert-comptable ------------------------------------------------------------------------


def test_the_accountant_approves_only_when_the_account_lets_them(admin, apps, client, libeo_app):  # noqa: F811
    rules(client, threshold="100")
    accountant = signed_in(apps, add_user(libeo_app, admin.id, ACCOUNTANT, is_admin=False))
    payment = held(pay(admin.api, "meg-1", n=1))
    assert accountant.get("/libeo/a-approuver/").status_code == 403
    assert accountant.post(f"/libeo/a-approuver/{payment['id']}/approuver").status_code == 403

    rules(client, threshold="100", accountant_may_approve="y")
    assert "l'expert-comptable peut approuver les paiements" in journal_text(client)
    assert "À approuver" in text(accountant.get("/libeo/factures/"))  # the header's link
    approve(accountant, payment["id"])
    assert status_of(libeo_app, payment["id"]) is PaymentStatus.SCHEDULED


def test_an_accountant_who_administers_the_account_cannot_approve_when_not_allowed(apps, libeo_app):
    from .conftest import Api, make_account, make_key

    info = make_account(libeo_app, name="Cabinet client SARL", accountant=ACCOUNTANT)
    add_user(libeo_app, info.id, ACCOUNTANT, is_admin=True)
    browser = signed_in(apps, ACCOUNTANT)
    browser.post(RULES, data={"threshold": "100"})
    api = Api(browser, make_key(libeo_app, info.id))
    payment = held(pay(api, "meg-1", n=1))
    page = text(browser.get("/libeo/a-approuver/"))
    assert "Les règles du compte ne permettent pas à l'expert-comptable d'approuver les paiements" in page
    approve(browser, payment["id"])
    assert status_of(libeo_app, payment["id"]) is PaymentStatus.AWAITING_APPROVAL


def test_a_negative_amount_for_two_approvers_is_refused_in_french(admin, client, libeo_app):  # noqa: F811
    page = rules(client, dual_threshold="-5")
    assert "has-error" in page.get_data(as_text=True)
    with libeo_app.app_context():
        assert db.session.get(Account, admin.id).dual_approval_above_cents is None
