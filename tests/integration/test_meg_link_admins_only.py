"""« Me connecter avec MEG »: linking an existing Libeo account to MEG is for its administrators.

The link gives MEG a new API key of the account (the one it pays with) and revokes the previous one, as « Se
connecter » / « Régénérer » in « Configuration » → « Intégrations » do, which only the account's administrators
may click. A Libeo user who is not one, signed in when MEG answers (even with the consent of the company's
« Achats » administrator), gets a French refusal saying that an administrator must do it, and the account's keys
and links stay as they were; the page MEG's « Payer » leads to offers them no « Me connecter avec MEG ».
Creating the account from MEG, whose creator is its administrator, is tests/integration/test_meg_connect.py's.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.libeo import ApiKey, LibeoUser, MegIdentity
from models.libeo import db as libeo_db
from models.meg import User
from models.meg import db as meg_db
from tests.conftest import PUBLIC_URL
from tests.factories import libeo_user
from tests.libeo.conftest import PASSWORD

from .conftest import GARAGE_SIRET, libeo_account
from .test_meg_connect import GARAGE, GERANT, Browser, answer_consent, company_id, page_text, payer_links

pytestmark = pytest.mark.usefixtures("demo", "libeo_oauth_client")

ADMINISTRATOR = "atelier@garage-leroy.fr"  # who signed the account up in Libeo
ADMINISTRATOR_PASSWORD = "mot-de-passe-solide-42"  # ``libeo_account``'s
MEMBER = "stagiaire@garage-leroy.fr"  # a user of the account who is not an administrator
REFUSAL = "Seuls les administrateurs du compte Libeo de Garage Leroy peuvent le relier à MEG"


@pytest.fixture
def garage(libeo_app) -> int:
    """Garage Leroy's Libeo account, signed up in Libeo, MEG's key already issued; and a user who is not an
    administrator."""
    account_id, _key = libeo_account(libeo_app, name="Garage Leroy", siret=GARAGE_SIRET, email=ADMINISTRATOR)
    with libeo_app.app_context():
        libeo_user(account_id, MEMBER, is_admin=False)
        libeo_db.session.commit()
    return account_id


def keys_and_links(libeo_app) -> tuple[list, int]:
    with libeo_app.app_context():
        keys = libeo_db.session.execute(select(ApiKey.id, ApiKey.revoked_at).order_by(ApiKey.id)).all()
        links = libeo_db.session.scalar(select(func.count()).select_from(MegIdentity))
        return [tuple(key) for key in keys], links


def signed_into_libeo(apps, email: str) -> Browser:
    password = ADMINISTRATOR_PASSWORD if email == ADMINISTRATOR else PASSWORD
    browser = Browser(apps)
    assert browser.post("/libeo/connexion", data={"email": email, "password": password}).status_code == 302
    return browser


def through_meg(browser: Browser, meg_app):
    """The company's « Achats » administrator in MEG: « Payer » → « Me connecter avec MEG » → « Autoriser »;
    Libeo's answer to MEG's redirect."""
    browser.meg_login(GERANT)
    browser.get(payer_links(browser)[0])
    consent = browser.follow(browser.get("/libeo/connexion-meg/demarrer"))
    return answer_consent(browser, meg_app, consent)


def test_a_libeo_user_who_is_not_an_administrator_cannot_link_the_account_to_meg(apps, meg_app, libeo_app,
                                                                                 garage):
    before = keys_and_links(libeo_app)
    browser = signed_into_libeo(apps, MEMBER)

    refused = browser.follow(through_meg(browser, meg_app))

    assert refused.status_code == 403
    assert REFUSAL in page_text(refused) and "Rien n'a été modifié." in page_text(refused)
    assert keys_and_links(libeo_app) == before


def test_an_administrator_links_it(apps, meg_app, libeo_app, garage):
    """The same steps by the administrator: linked, and MEG's new key replaces the former one."""
    [(former, _)], links = keys_and_links(libeo_app)
    assert links == 0
    browser = signed_into_libeo(apps, ADMINISTRATOR)

    through_meg(browser, meg_app)

    keys, links = keys_and_links(libeo_app)
    assert links == 1 and len(keys) == 2 and keys[0][0] == former and keys[0][1] is not None and keys[1][1] is None


def test_a_link_to_a_user_who_is_not_an_administrator_gives_meg_no_key(apps, meg_app, libeo_app, garage):
    """A link made before only administrators could make one, to a user who is not one: signing in with MEG still
    opens the account for that user, and no key is issued."""
    with meg_app.app_context():
        subject = str(meg_db.session.scalar(select(User.id).where(User.email == GERANT)))  # MEG's ``sub``
    with libeo_app.app_context():
        member = libeo_db.session.scalar(select(LibeoUser).where(LibeoUser.email == MEMBER))
        libeo_db.session.add(MegIdentity(issuer=f"{PUBLIC_URL}/meg", company_ref=str(company_id(meg_app, GARAGE)),
                                         subject=subject, account_id=garage, user_id=member.id))
        libeo_db.session.commit()
    before = keys_and_links(libeo_app)
    browser = Browser(apps)

    landing = browser.follow(through_meg(browser, meg_app))

    assert browser.url == f"{PUBLIC_URL}/libeo/configuration/integrations"
    assert REFUSAL in page_text(landing)
    assert keys_and_links(libeo_app) == before
    assert browser.get("/libeo/factures/").status_code == 200  # signed in all the same


def test_the_page_payer_leads_to_offers_them_no_button(apps, garage):
    member = signed_into_libeo(apps, MEMBER)
    member.meg_login(GERANT)
    page = page_text(member.get(payer_links(member)[0]))
    assert "Vous êtes connecté au compte Libeo de Garage Leroy" in page
    assert "Seuls les administrateurs du compte peuvent le relier à MEG." in page
    assert "/libeo/connexion-meg/demarrer" not in page and "Reliez-le" not in page

    administrator = signed_into_libeo(apps, ADMINISTRATOR)
    administrator.meg_login(GERANT)
    page = page_text(administrator.get(payer_links(administrator)[0]))
    assert "/libeo/connexion-meg/demarrer" in page and "Seuls les administrateurs" not in page
