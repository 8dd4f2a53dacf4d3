"""« Me connecter avec MEG »'s account creation asks for the company's account to debit, as Libeo's own
sign-up does: MEG does not know it, and without it no payment leaves."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.libeo import Account, JournalEntry
from models.libeo import db as libeo_db

from .test_meg_connect import Browser, consent_and_come_back, create_account_form, page_text

pytestmark = pytest.mark.usefixtures("demo", "libeo_oauth_client")

DEBIT_IBAN = "FR76 3000 6000 0112 3456 7890 189"


def signed_up_from_meg(apps, meg_app, **changes):
    browser = Browser(apps)
    browser.meg_login()
    form = consent_and_come_back(browser, meg_app)
    assert "IBAN du compte à débiter (facultatif)" in page_text(form)
    return browser, create_account_form(browser, **changes)


def test_the_debit_iban_given_on_the_meg_sign_up_is_the_accounts_and_journaled(apps, meg_app, libeo_app):
    browser, done = signed_up_from_meg(apps, meg_app, debtor_iban=DEBIT_IBAN)
    assert done.status_code == 302
    with libeo_app.app_context():
        account = libeo_db.session.scalar(select(Account))
        assert account.debtor_iban == DEBIT_IBAN.replace(" ", "")
        entries = libeo_db.session.scalars(select(JournalEntry.message)).all()
    assert any("FR76 •••• •••• •••• •••• ••90 189" in entry for entry in entries)
    assert "Aucun IBAN du compte à débiter" not in page_text(browser.follow(browser.get("/libeo/paiements/")))


def test_skipped_the_account_is_created_and_asked_for_it_later(apps, meg_app, libeo_app):
    browser, done = signed_up_from_meg(apps, meg_app, debtor_iban="")
    assert done.status_code == 302
    with libeo_app.app_context():
        assert libeo_db.session.scalar(select(Account.debtor_iban)) is None


@pytest.mark.parametrize(("iban", "message"), [
    ("FR76 3000 6000 0112 3456 7890 180", "Cet IBAN n'est pas valide (vérifiez le pays, la longueur et la clé)."),
    ("BR18 0036 0305 0000 1000 9795 493C 1", "hors de la zone SEPA (Brésil, BR)"),
    ("FR76😀", "Cet IBAN n'est pas valide."),
])
def test_a_wrong_debit_iban_is_said_under_its_field_and_nothing_is_created(apps, meg_app, libeo_app, iban, message):
    browser, answer = signed_up_from_meg(apps, meg_app, debtor_iban=iban)
    assert answer.status_code == 200
    assert message in page_text(answer)
    with libeo_app.app_context():
        assert libeo_db.session.scalar(select(func.count()).select_from(Account)) == 0
