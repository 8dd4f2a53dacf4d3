"""Libeo's sign-up asks for the company's account to debit; it may be skipped, and then is asked again."""

from __future__ import annotations

from sqlalchemy import select

from models.libeo import Account, db
from tests.helpers import words as text

from .test_ui import SIGNUP

DEBIT_IBAN = "FR76 3000 6000 0112 3456 7890 189"


def test_the_signup_form_asks_for_the_debit_iban(client):
    assert "IBAN du compte à débiter (facultatif)" in text(client.get("/libeo/inscription"))


def test_a_debit_iban_given_at_signup_is_the_accounts_and_journaled(client, libeo_app):
    page = text(client.post("/libeo/inscription", data={**SIGNUP, "debtor_iban": DEBIT_IBAN}, follow_redirects=True))
    assert "Le compte Libeo de Boulangerie Martin SARL est créé" in page
    assert "Aucun IBAN du compte à débiter" not in page
    with libeo_app.app_context():
        assert db.session.scalar(select(Account.debtor_iban)) == DEBIT_IBAN.replace(" ", "")
    assert "FR76 •••• •••• •••• •••• ••90 189" in text(client.get("/libeo/journal/"))


def test_skipped_it_is_asked_for_where_payments_are(client, libeo_app):
    page = text(client.post("/libeo/inscription", data=SIGNUP, follow_redirects=True))
    assert "Aucun IBAN du compte à débiter" in page
    assert "IBAN" in text(client.get("/libeo/paiements/"))


def test_a_wrong_iban_is_said_under_its_field_and_nothing_is_created(client, libeo_app):
    page = text(client.post("/libeo/inscription", data={**SIGNUP, "debtor_iban": "FR76 1234"}))
    assert "Cet IBAN n'est pas valide" in page
    with libeo_app.app_context():
        assert db.session.scalar(select(Account.id)) is None
