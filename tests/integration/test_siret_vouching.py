"""MEG vouches only for a SIRET it checked: the SIRET-takeover of a victim's Libeo account, replayed.

Reproduced on the earlier code: the « Achats » administrator of one MEG company
typed a victim's SIRET in its « Fiche de l'entreprise » (accepted), then went
through « Me connecter avec MEG »: the attacker's Libeo account became
« vérifié » with the victim's SIRET, the victim's own account lost it and its
API key answered 401.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.libeo import Account
from models.libeo import db as libeo_db

from .conftest import libeo_account
from .test_meg_connect import Browser, consent_and_come_back, create_account_form, page_text

pytestmark = pytest.mark.usefixtures("demo", "libeo_oauth_client")

ASSOCIATION = "Association Les Amis du Quartier"
ATTACKER = "president@amis-du-quartier.fr"
VICTIM_SIRET = "55667788800001"  # « TRANSPORTS VICTOR » in the registry; its own Libeo account


def _victim(libeo_app):
    return libeo_account(libeo_app, name="Transports Victor", siret=VICTIM_SIRET, email="victor@transports.fr",
                         verified=False)


def test_a_siret_typed_in_meg_does_not_take_a_victims_libeo_account(apps, meg_app, libeo_app):
    victim_id, victim_key = _victim(libeo_app)
    browser = Browser(apps)
    browser.meg_login(ATTACKER)
    saved = browser.post("/meg/entreprise/fiche", data={"name": ASSOCIATION, "siret": VICTIM_SIRET})
    assert saved.status_code == 302

    answer = consent_and_come_back(browser, meg_app, company=ASSOCIATION)
    assert browser.url.endswith("/libeo/connexion-meg/compte-existant"), browser.url
    assert "Un compte Libeo existe déjà" in page_text(answer)
    # Even the account-creation form, posted by hand, takes nothing.
    create_account_form(browser, company_name=ASSOCIATION, email=ATTACKER)

    with libeo_app.app_context():
        victim = libeo_db.session.get(Account, victim_id)
        assert victim.siret == VICTIM_SIRET and victim.lost_siret is None
        assert libeo_db.session.scalar(select(Account.id).where(Account.siret == VICTIM_SIRET)) == victim_id
        assert not libeo_db.session.scalars(select(Account).where(Account.verified_by.like("%MEG%"))).all()
    victim_api = apps.root.test_client().get("/libeo/api/v1/me", headers={"Authorization": f"Bearer {victim_key}"})
    assert victim_api.status_code == 200


def test_once_the_expert_comptable_confirmed_the_siret_meg_vouches_again(apps, meg_app, libeo_app):
    """The same SIRET, confirmed by the company's expert-comptable: the path works as before."""
    browser = Browser(apps)
    browser.meg_login(ATTACKER)
    browser.post("/meg/entreprise/fiche", data={"name": ASSOCIATION, "siret": VICTIM_SIRET})
    accountant = Browser(apps)
    accountant.meg_login("expert@cabinet-durand.fr")
    from models.meg import Company
    from models.meg import db as meg_db

    with meg_app.app_context():
        company_id = meg_db.session.scalar(select(Company.id).where(Company.name == ASSOCIATION))
    accountant.post("/meg/entreprise", data={"company_id": company_id})
    accountant.post("/meg/entreprise/fiche/confirmer-siret")

    consent_and_come_back(browser, meg_app, company=ASSOCIATION)
    done = create_account_form(browser, company_name=ASSOCIATION, email=ATTACKER)
    assert done.status_code == 302, page_text(done)[:2000]
    with libeo_app.app_context():
        account = libeo_db.session.scalar(select(Account).where(Account.siret == VICTIM_SIRET))
        assert account.is_verified and "vérifié par MEG" in account.verified_by


def _company_opened_as(meg_app, name: str, admin: str) -> None:
    """A MEG company opened under ``name`` (no SIRET yet), ``admin`` administering its « Achats »."""
    from models.meg import Company
    from models.meg import db as meg_db
    from models.meg.companies.models import AchatsRole
    from tests.factories import meg_user

    with meg_app.app_context():
        company = Company(name=name, siret=None)
        meg_db.session.add(company)
        meg_user(admin, "demo-meg-2026", company=company, role=AchatsRole.ADMIN)
        meg_db.session.commit()


def test_renaming_a_company_after_the_victim_gets_no_word_from_meg(apps, meg_app, libeo_app):
    """Renamed « Transports Victor » in the form that types its SIRET: the registry compares its name with the
    name the company was opened with, so MEG vouches for nothing and Libeo asks no support review."""
    victim_id, victim_key = _victim(libeo_app)
    browser = Browser(apps)
    browser.meg_login(ATTACKER)
    browser.post("/meg/entreprise/fiche", data={"name": "Transports Victor", "siret": VICTIM_SIRET})

    answer = consent_and_come_back(browser, meg_app, company="Transports Victor")
    assert browser.url.endswith("/libeo/connexion-meg/compte-existant")
    assert "Un compte Libeo existe déjà" in page_text(answer)
    assert "Le support de Libeo examine la demande" not in page_text(answer)
    create_account_form(browser, company_name="Transports Victor", email=ATTACKER)
    with libeo_app.app_context():
        victim = libeo_db.session.get(Account, victim_id)
        assert victim.siret == VICTIM_SIRET and victim.lost_siret is None
        assert not libeo_db.session.scalars(select(Account).where(Account.verified_by.like("%MEG%"))).all()


def test_a_company_named_after_the_victim_does_not_take_its_used_account(apps, meg_app, libeo_app):
    """The registry is public: a company opened in MEG under the victim's name passes its check. The victim's
    account has been used, so it keeps its SIRET and its key until support decides."""
    victim_id, victim_key = _victim(libeo_app)
    api = apps.root.test_client()
    invoice = {"number": "F-1", "supplier": {"name": "Garage du Port", "iban": "FR7630006000011234567890189"},
               "amount_cents": 12_000, "currency": "EUR", "issue_date": "2026-11-02", "due_date": "2026-12-02"}
    assert api.put("/libeo/api/v1/invoices/v-1", json=invoice,
                   headers={"Authorization": f"Bearer {victim_key}"}).status_code in (200, 201)
    _company_opened_as(meg_app, "Transports Victor", "patron@transports-victor.fr")
    browser = Browser(apps)
    browser.meg_login("patron@transports-victor.fr")
    browser.post("/meg/entreprise/fiche", data={"name": "Transports Victor", "siret": VICTIM_SIRET})

    answer = consent_and_come_back(browser, meg_app, company="Transports Victor")
    assert browser.url.endswith("/libeo/connexion-meg/compte-existant")
    assert "Le support de Libeo examine la demande" in page_text(answer)
    create_account_form(browser, company_name="Transports Victor", email="patron@transports-victor.fr")
    with libeo_app.app_context():
        victim = libeo_db.session.get(Account, victim_id)
        assert victim.siret == VICTIM_SIRET and victim.lost_siret is None
    assert api.get("/libeo/api/v1/me", headers={"Authorization": f"Bearer {victim_key}"}).status_code == 200
