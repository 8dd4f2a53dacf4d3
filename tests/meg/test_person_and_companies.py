"""The signed-in person and the companies they may open, read together (one statement on every page).

An expert-comptable opens their firm's client companies and those where they
hold a role of their own; nobody opens any other. The role shown (the
« Options » gear of an administrator) is the person's in each company.
"""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from models.meg import AccountingFirm, AchatsRole, Company, db
from tests.factories import meg_company, meg_user

PASSWORD = "mot-de-passe-solide-42"
SWITCHER = re.compile(r'<select id="switch-company" name="company_id">(.*?)</select>', re.S)


def _switcher(html: str) -> list[str]:
    match = SWITCHER.search(html)
    assert match, "the company switcher is missing"
    return re.findall(r">([^<]+)</option>", match.group(1))


def _firm_clients() -> list[str]:
    firm = db.session.scalar(select(AccountingFirm))
    return sorted(db.session.scalars(select(Company.name).where(Company.accounting_firm_id == firm.id)))


def test_an_accountant_opens_the_firm_clients_and_their_own_companies_with_their_role_in_each(
        apps, client, demo, meg_auth):
    with apps.meg.app_context():
        firm = db.session.scalar(select(AccountingFirm))
        clients = _firm_clients()
        own = Company(name="Atelier Zéphyr")  # not a client of the firm: opened through the role alone
        db.session.add_all([own, Company(name="Autre Cabinet SARL")])  # neither: never listed
        meg_user("julie@cabinet-durand.fr", PASSWORD, firm=firm, company=own, role=AchatsRole.ADMIN)
        db.session.commit()
        own_id, first_client = own.id, meg_company(clients[0]).id
    meg_auth.login("julie@cabinet-durand.fr", PASSWORD)

    page = client.get("/meg/achats/").get_data(as_text=True)
    assert _switcher(page) == sorted([*clients, "Atelier Zéphyr"])

    # Administrator of her own company: the « Options » gear; a firm's client she works in without administering.
    client.post("/meg/entreprise", data={"company_id": own_id})
    assert 'aria-label="Options"' in client.get("/meg/achats/").get_data(as_text=True)
    client.post("/meg/entreprise", data={"company_id": first_client})
    assert 'aria-label="Options"' not in client.get("/meg/achats/").get_data(as_text=True)


def test_a_user_of_one_company_sees_no_switcher_and_a_user_of_none_is_told_why(apps, client, demo, meg_auth):
    with apps.meg.app_context():
        meg_user("paul@boulangerie-martin.fr", PASSWORD, company=meg_company("Boulangerie Martin SARL"),
                 role=AchatsRole.USER)
        meg_user("personne@exemple.fr", PASSWORD)
        db.session.commit()

    meg_auth.login("paul@boulangerie-martin.fr", PASSWORD)
    page = client.get("/meg/achats/").get_data(as_text=True)
    assert "Boulangerie Martin SARL" in page and 'id="switch-company"' not in page
    meg_auth.logout()

    meg_auth.login("personne@exemple.fr", PASSWORD)
    refused = client.get("/meg/achats/")
    assert refused.status_code == 403
    assert "Votre compte n'est rattaché à aucune entreprise." in html.unescape(refused.get_data(as_text=True))
