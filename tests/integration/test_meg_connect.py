"""« Me connecter avec MEG »: the real dance, MEG's « Payer » to a connected Libeo account.

The browser is the combined app's test client on the public host (MEG's
links to Libeo and back are absolute); Libeo's server-to-server calls to MEG
(discovery, token, JWKS, key delivery) go through the in-process transport.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
from sqlalchemy import func, select, update

from models.libeo import Account, ApiKey, LibeoUser, MegIdentity, Payment, Plan
from models.libeo import db as libeo_db
from models.meg import Company
from models.meg import db as meg_db
from models.meg.companies.models import AchatsRole
from models.meg.libeo_link.connection import LibeoConnection
from models.meg.oauth import OAuthToken, find_token
from tests.conftest import PUBLIC_URL
from tests.factories import meg_company, meg_user
from tests.helpers import confirmation_panel

from .conftest import GARAGE_SIRET, libeo_account

pytestmark = pytest.mark.usefixtures("demo", "libeo_oauth_client")

GERANT = "gerant@garage-leroy.fr"
GARAGE = "Garage Leroy SAS"
LIBEO_PASSWORD = "pistons-et-bougies-2026"
MEG_PASSWORD = "demo-meg-2026"


class Browser:
    """One person's browser on the public host; follows redirects only within it."""

    def __init__(self, apps):
        self.client = apps.root.test_client()
        self.url = PUBLIC_URL + "/"

    def request(self, method: str, url: str, **kwargs):
        url = urljoin(self.url, url)
        assert url.startswith(PUBLIC_URL + "/"), f"left the site for {url}"
        response = self.client.open(url, method=method, **kwargs)
        self.url = url
        return response

    def get(self, url: str, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs):
        return self.request("POST", url, **kwargs)

    def follow(self, response, limit: int = 12):
        for _ in range(limit):
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            response = self.get(response.headers["Location"])
        raise AssertionError("too many redirects")

    def meg_login(self, email: str = GERANT):
        response = self.post("/meg/connexion", data={"email": email, "password": MEG_PASSWORD})
        assert response.status_code == 302, response.text[:300]

    def libeo_logout(self):
        self.post("/libeo/deconnexion")


def page_text(response) -> str:
    """The page's HTML, entities decoded and white space collapsed as a browser shows it."""
    return " ".join(unescape(response.get_data(as_text=True)).split())


def payer_links(browser: Browser) -> list[str]:
    """« Payer » of the « Règlements » tab, for a company not connected to Libeo yet."""
    html = browser.get("/meg/achats/reglements").get_data(as_text=True)
    return [unescape(href) for href in re.findall(r'<a class="button primary small" href="([^"]+)">Payer</a>', html)]


def return_to_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["return_to"][0]


def company_id(meg_app, name: str) -> int:
    with meg_app.app_context():
        return meg_db.session.scalar(select(Company.id).where(Company.name == name))


def answer_consent(browser: Browser, meg_app, consent, company: str = GARAGE, button: str = "allow"):
    """On MEG's consent screen: « Autoriser » (or « Refuser »); returns Libeo's answer to MEG's redirect."""
    assert "Libeo souhaite accéder à votre compte MEG" in page_text(consent)
    assert company in page_text(consent)
    answer = browser.post(browser.url, data={button: "1", "company_id": company_id(meg_app, company)})
    assert answer.headers["Location"].startswith(f"{PUBLIC_URL}/libeo/connexion-meg/retour?")
    return browser.get(answer.headers["Location"])


def consent_and_come_back(browser: Browser, meg_app, company: str = GARAGE, button: str = "allow"):
    """« Me connecter avec MEG » → MEG's consent screen → « Autoriser » → back in Libeo (redirects followed)."""
    consent = browser.follow(browser.get("/libeo/connexion-meg/demarrer"))
    return browser.follow(answer_consent(browser, meg_app, consent, company, button))


BACK_TO_MEG = '<a class="button" href="/libeo/connexion-meg/revenir">← Revenir à la facture dans MEG</a>'


def create_account_form(browser: Browser, plan: str = "gratuit", **changes):
    data = {"company_name": GARAGE, "email": GERANT, "full_name": "Marc Leroy", "plan": plan,
            "password": LIBEO_PASSWORD, "terms": "y"}
    data.update(changes)
    return browser.post("/libeo/connexion-meg/compte", data={k: v for k, v in data.items() if v is not None})


def meg_connection(meg_app, company: str = GARAGE) -> LibeoConnection | None:
    with meg_app.app_context():
        return meg_db.session.scalar(
            select(LibeoConnection)
            .join(Company, LibeoConnection.company_id == Company.id)
            .where(Company.name == company)
        )


def libeo_counts(libeo_app) -> dict:
    with libeo_app.app_context():
        return {
            model.__name__: libeo_db.session.scalar(select(func.count()).select_from(model))
            for model in (Account, LibeoUser, MegIdentity, ApiKey)
        }


def active_keys(libeo_app) -> list[str]:
    with libeo_app.app_context():
        return list(libeo_db.session.scalars(select(ApiKey.prefix).where(ApiKey.revoked_at.is_(None))))


def libeo_session(apps, browser: Browser) -> dict:
    cookie = browser.client.get_cookie("libeo_session", domain="127.0.0.1", path="/libeo")
    if cookie is None:
        return {}
    return apps.libeo.session_interface.get_signing_serializer(apps.libeo).loads(cookie.value)


def add_meg_user(meg_app, email: str, company: str, role: AchatsRole) -> None:
    with meg_app.app_context():
        meg_user(email, MEG_PASSWORD, company=meg_company(company), role=role)
        meg_db.session.commit()


# --- the article's path ------------------------------------------------------------------------


def test_payer_creates_the_libeo_account_from_meg_then_pays(apps, meg_app, libeo_app):
    browser = Browser(apps)
    browser.meg_login()
    link = payer_links(browser)[0]
    invoice_page = return_to_of(link)
    assert link.startswith(f"{PUBLIC_URL}/libeo/connexion-meg?")
    assert re.fullmatch(rf"{PUBLIC_URL}/meg/achats/factures/(\d+)\?payer=\1#confirmer", invoice_page)

    page = browser.get(link)
    assert page.status_code == 200
    assert "Créez-le depuis MEG" in page_text(page)
    assert "Me connecter avec MEG" in page_text(page)
    # Libeo does not know whether the company is connected (an old link opens the same page): it never says it
    # is not, and offers the way back.
    assert "n'est pas connectée" not in page_text(page)
    assert "Votre entreprise est déjà connectée ?" in page_text(page) and "Revenir à MEG" in page_text(page)

    form = consent_and_come_back(browser, meg_app)
    assert browser.url == f"{PUBLIC_URL}/libeo/connexion-meg/compte"
    html = page_text(form)
    assert 'value="Garage Leroy SAS"' in html
    assert 'value="gerant@garage-leroy.fr"' in html
    assert re.search(r'<input id="siret" type="text" value="851 234 567 00002" readonly', html)
    assert "Partnerships — 9 € HT / mois (10,80 € TTC), sans engagement" in html
    assert re.search(r"J'accepte les <a href=\"/libeo/conditions\"[^>]*>conditions générales d'utilisation</a>", html)

    # Between MEG's answer and the form, the session cookie carries the access
    # token encrypted: what it holds cannot be presented to MEG.
    sealed = libeo_session(apps, browser)["meg_connect"]["token"]
    with meg_app.app_context():
        assert find_token(sealed) is None

    done = create_account_form(browser)
    assert done.status_code == 302
    # Back on the invoice the user wanted to pay, where MEG says the connection is made (once: the address
    # loses its « connexion=etablie » at once).
    said = invoice_page.replace("#confirmer", "&connexion=etablie#confirmer")
    assert done.headers["Location"] == said
    arrived = browser.get(said)
    assert arrived.status_code == 302 and arrived.headers["Location"] == invoice_page.split("#")[0].removeprefix(
        PUBLIC_URL)
    back = page_text(browser.follow(arrived))
    made = f"La connexion est établie avec le compte Libeo « {GARAGE} »"
    # Said where the page opens (« Payer »'s panel, far below the top on a phone), once.
    assert made in confirmation_panel(back) and back.count(made) == 1

    connection = meg_connection(meg_app)
    assert connection is not None and connection.account_name == GARAGE
    with libeo_app.app_context():
        account = libeo_db.session.scalar(select(Account))
        assert (account.name, account.siret, account.plan) == (GARAGE, GARAGE_SIRET, Plan.GRATUIT)
        assert account.users[0].email == GERANT and account.users[0].check_password(LIBEO_PASSWORD)
        link_row = libeo_db.session.scalar(select(MegIdentity))
        assert link_row.account_id == account.id
        assert link_row.issuer == f"{PUBLIC_URL}/meg"
        assert link_row.company_ref == str(company_id(meg_app, GARAGE))
    assert "token" not in libeo_session(apps, browser).get("meg_connect", {})

    # Back on the invoice, « Payer »'s confirmation is open and works: the payment exists in Libeo.
    invoice_html = browser.get(invoice_page).get_data(as_text=True)
    invoice_id = invoice_page.split("?")[0].rsplit("/", 1)[1]
    assert f'action="/meg/achats/factures/{invoice_id}/payer"' in invoice_html
    assert "Confirmer le paiement" in invoice_html
    paid = browser.follow(browser.post(f"/meg/achats/factures/{invoice_id}/payer", data={"next": invoice_page}))
    assert "Paiement programmé le" in page_text(paid)
    with libeo_app.app_context():
        [payment] = libeo_db.session.scalars(select(Payment)).all()
        assert payment.initiated_by_email == GERANT


def test_no_access_token_is_kept_in_libeo(apps, meg_app, libeo_app):
    browser = Browser(apps)
    browser.meg_login()
    browser.get(payer_links(browser)[0])
    consent_and_come_back(browser, meg_app)
    from models.libeo.meg_link.client import unseal

    with libeo_app.test_request_context():
        access_token = unseal(libeo_session(apps, browser)["meg_connect"]["token"], 60)
    with meg_app.app_context():
        assert find_token(access_token) is not None
    create_account_form(browser)

    with libeo_app.app_context(), libeo_db.engine.connect() as conn:
        for table in libeo_db.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                assert access_token not in repr(tuple(row)), table.name
    assert access_token not in repr(libeo_session(apps, browser))


def test_signing_in_again_with_meg_opens_the_same_account(apps, meg_app, libeo_app):
    browser = Browser(apps)
    browser.meg_login()
    browser.get(payer_links(browser)[0])
    consent_and_come_back(browser, meg_app)
    create_account_form(browser)
    keys = active_keys(libeo_app)
    browser.libeo_logout()

    login_page = browser.get("/libeo/connexion")
    assert "Me connecter avec MEG" in page_text(login_page)
    landing = consent_and_come_back(browser, meg_app)
    assert browser.url == f"{PUBLIC_URL}/libeo/factures/"
    assert "Vous êtes connecté au compte Libeo de Garage Leroy SAS" in page_text(landing)
    assert libeo_counts(libeo_app) == {"Account": 1, "LibeoUser": 1, "MegIdentity": 1, "ApiKey": 1}
    assert active_keys(libeo_app) == keys  # MEG's key is left alone


def test_signing_in_with_meg_from_the_login_page_opens_the_page_it_was_asked_for(apps, meg_app, libeo_app):
    """MEG links to Libeo's « Remises » and payments: « Me connecter avec MEG » on the login page they lead to
    landed on « Factures »."""
    browser = Browser(apps)
    browser.meg_login()
    browser.get(payer_links(browser)[0])
    consent_and_come_back(browser, meg_app)
    create_account_form(browser)
    browser.libeo_logout()

    login_page = browser.follow(browser.get("/libeo/remises/"))  # to the login page, with its next
    assert 'href="/libeo/connexion-meg/demarrer?next=/libeo/remises/"' in login_page.get_data(as_text=True)
    consent = browser.follow(browser.get("/libeo/connexion-meg/demarrer?next=/libeo/remises/"))
    browser.follow(answer_consent(browser, meg_app, consent))
    assert browser.url == f"{PUBLIC_URL}/libeo/remises/"
    # Another site is never where it leads.
    browser.libeo_logout()
    consent = browser.follow(browser.get("/libeo/connexion-meg/demarrer?next=https://ailleurs.example/"))
    browser.follow(answer_consent(browser, meg_app, consent))
    assert browser.url == f"{PUBLIC_URL}/libeo/factures/"


def test_the_sign_up_page_offers_meg_too(client):
    assert "Me connecter avec MEG" in page_text(client.get("/libeo/inscription"))


# --- accounts that exist already -----------------------------------------------------------------


def test_an_existing_siret_is_linked_only_after_logging_into_it(apps, meg_app, libeo_app):
    libeo_account(libeo_app, name="Garage Leroy", siret=GARAGE_SIRET, email="atelier@garage-leroy.fr")
    before = libeo_counts(libeo_app)
    browser = Browser(apps)
    browser.meg_login()
    link = payer_links(browser)[0]
    invoice_page = return_to_of(link)
    browser.get(link)

    notice = consent_and_come_back(browser, meg_app)
    assert browser.url == f"{PUBLIC_URL}/libeo/connexion-meg/compte-existant"
    assert "Garage Leroy SAS (SIRET 851 234 567 00002) a déjà un compte Libeo" in page_text(notice)
    assert libeo_counts(libeo_app) == before  # nothing created, nothing linked
    assert meg_connection(meg_app) is None
    assert browser.get("/libeo/factures/").status_code == 302  # not logged into Libeo

    login_url = unescape(re.search(r'href="([^"]+)">Me connecter à ce compte Libeo', notice.get_data(as_text=True))[1])
    assert browser.get(login_url).status_code == 200
    logged_in = browser.post(login_url, data={"email": "atelier@garage-leroy.fr", "password": "mot-de-passe-solide-42"})
    consent = browser.follow(logged_in)  # MEG asks once more, for a token Libeo may use
    done = answer_consent(browser, meg_app, consent)
    assert done.headers["Location"] == invoice_page.replace("#", "&connexion=etablie#")

    assert meg_connection(meg_app).account_name == "Garage Leroy"
    with libeo_app.app_context():
        link_row = libeo_db.session.scalar(select(MegIdentity))
        assert link_row.user.email == "atelier@garage-leroy.fr"
    assert libeo_counts(libeo_app)["Account"] == 1


def test_another_account_logged_in_is_not_linked(apps, meg_app, libeo_app):
    libeo_account(libeo_app)  # Boulangerie Martin
    libeo_account(libeo_app, name="Garage Leroy", siret=GARAGE_SIRET, email="atelier@garage-leroy.fr")
    browser = Browser(apps)
    browser.post("/libeo/connexion", data={"email": "claire@boulangerie-martin.fr",
                                           "password": "mot-de-passe-solide-42"})
    browser.meg_login()
    notice = consent_and_come_back(browser, meg_app)
    assert "qui n'est pas celui de Garage Leroy SAS" in page_text(notice)
    assert libeo_counts(libeo_app)["MegIdentity"] == 0


# --- who may connect -----------------------------------------------------------------------------


def test_a_non_administrator_creates_the_account_but_cannot_connect_it(apps, meg_app, libeo_app):
    add_meg_user(meg_app, "julie@garage-leroy.fr", GARAGE, AchatsRole.USER)
    browser = Browser(apps)
    browser.meg_login("julie@garage-leroy.fr")
    link = payer_links(browser)[0]
    browser.get(link)
    consent_and_come_back(browser, meg_app)
    done = browser.follow(create_account_form(browser, email="julie@garage-leroy.fr"))

    assert browser.url == f"{PUBLIC_URL}/libeo/configuration/integrations"
    html = page_text(done)
    assert "seul un administrateur du module « Achats » de Garage Leroy SAS peut le connecter" in html
    assert BACK_TO_MEG in html
    assert meg_connection(meg_app) is None
    assert libeo_counts(libeo_app)["Account"] == 1
    assert active_keys(libeo_app) == []  # the key MEG refused is revoked

    # The company's Achats administrator connects it from « Payer », without entering Libeo.
    admin = Browser(apps)
    admin.meg_login(GERANT)
    link = payer_links(admin)[0]
    admin.get(link)
    done = answer_consent(admin, meg_app, admin.follow(admin.get("/libeo/connexion-meg/demarrer")))
    assert done.headers["Location"] == return_to_of(link)
    assert meg_connection(meg_app) is not None
    assert admin.get("/libeo/factures/").status_code == 302  # still not logged into Libeo
    assert libeo_counts(libeo_app)["Account"] == 1


def _julie_opens_the_account_and_the_manager_connects_it(apps, meg_app, libeo_app):
    """Julie, no « Achats » administrator in MEG, creates the Libeo account (MEG refuses her its key); the
    manager connects it from « Payer ». Julie's and the manager's browsers, Julie's « Intégrations » page, and
    the « Payer » link the manager followed."""
    add_meg_user(meg_app, "julie@garage-leroy.fr", GARAGE, AchatsRole.USER)
    julie = Browser(apps)
    julie.meg_login("julie@garage-leroy.fr")
    julie.get(payer_links(julie)[0])
    consent_and_come_back(julie, meg_app)
    created = page_text(julie.follow(create_account_form(julie, email="julie@garage-leroy.fr")))
    admin = Browser(apps)
    admin.meg_login(GERANT)
    link = payer_links(admin)[0]
    admin.get(link)
    answer_consent(admin, meg_app, admin.follow(admin.get("/libeo/connexion-meg/demarrer")))
    assert len(active_keys(libeo_app)) == 1
    return julie, created, admin, link


def test_a_key_a_libeo_administrator_revoked_is_not_issued_again_from_megs_payer(apps, meg_app, libeo_app):
    """« Révoquer » in Libeo's « Intégrations » stops MEG paying from the account: an « Achats » administrator of
    MEG who is nobody in that Libeo account may not undo it from « Payer ». Libeo asks one of the account's
    administrators to log in, and issues nothing."""
    julie, created, admin, link = _julie_opens_the_account_and_the_manager_connects_it(apps, meg_app, libeo_app)
    assert "créée par « Me connecter avec MEG », n'a pas été acceptée par MEG" in created
    assert "MEG ne l'a jamais eue" in created

    # Julie, administrator of the Libeo account, revokes MEG's key.
    revoked = julie.follow(julie.post("/libeo/configuration/integrations/meg/revoquer"))
    assert "MEG ne peut plus payer par Libeo avec elle" in page_text(revoked)
    assert active_keys(libeo_app) == []

    # MEG's « Achats » administrator tries « Payer » → « Me connecter avec MEG » again.
    admin.get(link)
    told = admin.follow(answer_consent(admin, meg_app, admin.follow(admin.get("/libeo/connexion-meg/demarrer"))))
    assert active_keys(libeo_app) == []
    assert admin.url == f"{PUBLIC_URL}/libeo/connexion-meg/compte-existant"
    said = page_text(told)
    assert "<h1>La clé de MEG a été révoquée dans Libeo</h1>" in said, said[:2000]
    assert ("un administrateur du compte Libeo de Garage Leroy SAS (<span class=\"nowrap\">SIRET 851 234 567 00002"
            "</span>) a révoqué la clé d'API avec laquelle MEG payait : seul un administrateur de ce compte Libeo peut "
            "reconnecter MEG. Rien n'a été modifié.") in said
    assert ("demandez à un administrateur de ce compte Libeo de cliquer sur « Se connecter » dans « Configuration » → "
            "« Intégrations » et de vous transmettre la clé qui s'affiche : collez-la dans « Options »") in said
    assert "julie@garage-leroy.fr" not in said
    assert "récupérer le SIRET" not in said and "a déjà un compte Libeo" not in said
    assert f'href="{return_to_of(link)}">← Revenir à la facture dans MEG</a>' in said

    # Julie, administrator of the Libeo account, asks to connect MEG again herself: MEG refuses her (she is no
    # « Achats » administrator there) and Libeo tells her to ask the manager — whose « Payer » now connects it.
    refused = consent_and_come_back(julie, meg_app)
    assert "seul un administrateur du module « Achats » de Garage Leroy SAS peut le connecter" in page_text(refused)
    assert active_keys(libeo_app) == []
    admin.get(link)
    done = answer_consent(admin, meg_app, admin.follow(admin.get("/libeo/connexion-meg/demarrer")))
    assert done.headers["Location"] == return_to_of(link)
    assert len(active_keys(libeo_app)) == 1


def test_a_key_meg_gave_up_is_issued_again_from_megs_payer(apps, meg_app, libeo_app):
    """A key revoked because MEG gave it up (« Supprimer la connexion ») or refused it: MEG's « Achats »
    administrator connects the account again from « Payer », without entering Libeo."""
    _julie, _created, admin, link = _julie_opens_the_account_and_the_manager_connects_it(apps, meg_app, libeo_app)
    # « Supprimer la connexion » in MEG's « Options »: nothing in flight, Libeo revokes the key at once.
    removed = admin.follow(admin.post("/meg/achats/options/libeo/supprimer", data={"submit": "1"}))
    assert "Libeo a révoqué la clé" in page_text(removed), page_text(removed)[:1500]
    assert active_keys(libeo_app) == []

    link = payer_links(admin)[0]
    admin.get(link)
    done = answer_consent(admin, meg_app, admin.follow(admin.get("/libeo/connexion-meg/demarrer")))
    assert done.headers["Location"] == return_to_of(link)
    assert len(active_keys(libeo_app)) == 1


def test_a_company_without_siret_is_refused(apps, meg_app, libeo_app):
    browser = Browser(apps)
    browser.meg_login("president@amis-du-quartier.fr")
    browser.get("/libeo/connexion-meg")
    page = consent_and_come_back(browser, meg_app, company="Association Les Amis du Quartier")
    assert browser.url == f"{PUBLIC_URL}/libeo/connexion-meg"
    assert "n'a pas de SIRET dans MEG : Libeo est réservé aux entreprises qui en ont un" in page_text(page)
    assert browser.get("/libeo/connexion-meg/compte").status_code == 302
    assert libeo_counts(libeo_app) == {"Account": 0, "LibeoUser": 0, "MegIdentity": 0, "ApiKey": 0}


def test_refusing_on_meg_creates_nothing(apps, meg_app, libeo_app):
    browser = Browser(apps)
    browser.meg_login()
    page = consent_and_come_back(browser, meg_app, button="deny")
    assert "Vous n'avez pas autorisé Libeo dans MEG" in page_text(page)
    assert libeo_counts(libeo_app)["Account"] == 0


# --- the account-creation step ------------------------------------------------------------------


def test_the_creation_step_says_every_problem_at_once(apps, meg_app, libeo_app):
    browser = Browser(apps)
    browser.meg_login()
    consent_and_come_back(browser, meg_app)
    answer = create_account_form(browser, company_name="", email="pas-une-adresse", password="court", terms=None)
    page = page_text(answer)
    assert answer.status_code == 200
    for message in ("Saisissez le nom de l'entreprise.", "Cette adresse e-mail n'est pas valide.",
                    "Le mot de passe doit comporter au moins 10 caractères.",
                    "Acceptez les conditions générales d'utilisation pour créer votre compte."):
        assert message in page, message
    assert libeo_counts(libeo_app)["Account"] == 0


def test_terms_must_be_accepted_and_the_siret_is_megs(apps, meg_app, libeo_app):
    browser = Browser(apps)
    browser.meg_login()
    consent_and_come_back(browser, meg_app)

    refused = create_account_form(browser, terms=None)
    assert refused.status_code == 200
    assert "Acceptez les conditions générales d'utilisation" in page_text(refused)
    weak = create_account_form(browser, password="court")
    assert "au moins 10 caractères" in page_text(weak)
    assert libeo_counts(libeo_app)["Account"] == 0

    create_account_form(browser, siret="83451234500002", company_name="Garage Leroy")
    with libeo_app.app_context():
        account = libeo_db.session.scalar(select(Account))
        assert (account.name, account.siret) == ("Garage Leroy", GARAGE_SIRET)


def test_partnerships_leads_to_the_card_step(apps, meg_app, libeo_app):
    browser = Browser(apps)
    browser.meg_login()
    link = payer_links(browser)[0]
    browser.get(link)
    consent_and_come_back(browser, meg_app)
    page = browser.follow(create_account_form(browser, plan="partnerships"))
    assert browser.url == f"{PUBLIC_URL}/libeo/abonnement"
    html = page_text(page)
    assert "saisissez votre carte bancaire ci-dessous" in html
    assert "Passer à Partnerships — 9 € HT / mois" in html
    assert BACK_TO_MEG in html
    assert meg_connection(meg_app) is not None
    with libeo_app.app_context():
        assert libeo_db.session.scalar(select(Account.plan)) is Plan.GRATUIT  # until Stripe accepts the card

    # The way back stays on every page (the card step, « Factures »…) until the person takes it.
    for address in ("/libeo/abonnement", "/libeo/factures/", "/libeo/configuration/"):
        assert BACK_TO_MEG in page_text(browser.get(address)), address
    back = browser.get("/libeo/connexion-meg/revenir")
    assert back.status_code == 302 and back.headers["Location"] == return_to_of(link)
    assert BACK_TO_MEG not in page_text(browser.get("/libeo/factures/"))


def start_creation(apps, meg_app) -> tuple[Browser, str]:
    """Garage Leroy's gérant, from « Payer » to the account-creation form; returns the invoice page."""
    browser = Browser(apps)
    browser.meg_login()
    link = payer_links(browser)[0]
    browser.get(link)
    consent_and_come_back(browser, meg_app)
    return browser, return_to_of(link)


def test_meg_unreachable_at_the_end_keeps_the_account(apps, meg_app, libeo_app):
    browser, _ = start_creation(apps, meg_app)
    apps.libeo.extensions["http_peers"] = {}
    apps.libeo.config["MEG_URL"] = "http://127.0.0.1:9/meg"  # nothing listens there
    done = browser.follow(create_account_form(browser))

    assert browser.url == f"{PUBLIC_URL}/libeo/configuration/integrations"
    html = page_text(done)
    assert "MEG n'a pas répondu quand Libeo lui a remis la clé : Libeo ne peut pas savoir s'il l'a enregistrée" in html
    assert "Vérifiez dans MEG, « Achats » → « Options »" in html and "Votre compte Libeo est prêt" in html
    assert libeo_counts(libeo_app)["Account"] == 1
    assert len(active_keys(libeo_app)) == 1  # MEG may have kept it before the answer was lost
    assert meg_connection(meg_app) is None


def test_a_token_revoked_by_meg_leaves_no_usable_key(apps, meg_app, libeo_app):
    browser, _ = start_creation(apps, meg_app)
    with meg_app.app_context():
        meg_db.session.execute(update(OAuthToken).values(revoked_at=func.now()))
        meg_db.session.commit()
    done = browser.follow(create_account_form(browser))
    assert "Jeton d'accès MEG absent, invalide, expiré ou révoqué" in page_text(done)
    assert "réessayez plus tard avec « Me connecter avec MEG »" in page_text(done)
    assert active_keys(libeo_app) == []
    assert libeo_counts(libeo_app)["Account"] == 1
    assert meg_connection(meg_app) is None

    # Trying again from « Me connecter avec MEG » connects the account.
    assert consent_and_come_back(browser, meg_app).status_code == 200
    assert meg_connection(meg_app) is not None


def test_meg_unreachable_at_the_start_says_so(apps, libeo_app):
    libeo_app.extensions["http_peers"] = {}
    libeo_app.config["MEG_URL"] = "http://127.0.0.1:9/meg"
    browser = Browser(apps)
    page = browser.follow(browser.get("/libeo/connexion-meg/demarrer"))
    assert browser.url == f"{PUBLIC_URL}/libeo/connexion-meg"
    assert "MEG ne répond pas pour le moment : réessayez dans quelques instants" in page_text(page)


def test_the_creation_step_needs_a_fresh_meg_answer(apps):
    browser = Browser(apps)
    response = browser.follow(browser.get("/libeo/connexion-meg/compte"))
    assert browser.url == f"{PUBLIC_URL}/libeo/connexion-meg"
    assert "Votre connexion avec MEG a expiré" in page_text(response)


# --- the way back -------------------------------------------------------------------------------

EVIL_RETURNS = [
    "https://evil.example/",
    "//evil.example",
    "//evil.example/meg/achats",
    "http://127.0.0.1:5000@evil.example/",
    "http://127.0.0.1:5000@evil.example/meg/achats",
    "http://user:pw@127.0.0.1:5000/meg/achats",
    "/\\evil",
    "http://127.0.0.1:5000\\@evil.example/meg/",
    "http://evil.example\\@127.0.0.1:5000/meg/",
    "javascript:alert(1)",
    "JavaScript:alert(1)//127.0.0.1:5000/meg/",
    "data:text/html,<script>alert(1)</script>",
    "/meg/achats/reglements",
    "http://127.0.0.1:5001/meg/achats/reglements",
    "http://127.0.0.1/meg/achats/reglements",
    "http://127.0.0.1:5000:80/meg/achats",
    "http://localhost:5000/meg/achats/reglements",
    "http://127.0.0.1.evil.example:5000/meg/achats",
    "http://127.0.0.1:5000.evil.example/meg/achats",
    "https://127.0.0.1:5000/meg/achats/reglements",
    "ftp://127.0.0.1:5000/meg/achats",
    "http://127.0.0.1:5000/libeo/factures/",
    "http://127.0.0.1:5000/megx/achats",
    "http://127.0.0.1:5000/meg/../libeo/",
    "http://127.0.0.1:5000/meg/%2e%2e/libeo/",
    "http://127.0.0.1:5000/meg/%2F%2Fevil.example",
    "http://127.0.0.1:5000/meg//evil.example",
    "http://127.0.0.1:5000/meg/achats\t/x",
    "http://127.0.0.1:5000/meg/achats\n",
    "http://127.0.0.1:5000/meg/achats é",
    "http://127.0.0.1:5000/meg/" + "a" * 2100,
    "",
]


@pytest.mark.parametrize("candidate", EVIL_RETURNS)
def test_a_return_address_off_meg_is_ignored(libeo_app, candidate):
    from models.libeo.meg_link.client import meg_return_url

    with libeo_app.test_request_context():
        assert meg_return_url(candidate) is None


@pytest.mark.parametrize("candidate", [f"{PUBLIC_URL}/meg/achats/factures/3", f"{PUBLIC_URL}/meg",
                                       f"{PUBLIC_URL}/meg/achats/reglements?page=2"])
def test_a_meg_page_is_a_valid_return_address(libeo_app, candidate):
    from models.libeo.meg_link.client import meg_return_url

    with libeo_app.test_request_context():
        assert meg_return_url(candidate) == candidate


@pytest.mark.parametrize("candidate", ["https://evil.example/", "//evil.example", "http://127.0.0.1:5000@evil.example/",
                                       "/\\evil", "javascript:alert(1)", "http://127.0.0.1:5001/meg/achats"])
def test_the_whole_dance_never_leaves_for_another_host(apps, meg_app, libeo_app, candidate):
    browser = Browser(apps)
    browser.meg_login()
    page = browser.get("/libeo/connexion-meg?" + urlencode({"return_to": candidate}))
    assert candidate not in page.get_data(as_text=True)
    consent_and_come_back(browser, meg_app)
    done = create_account_form(browser)
    assert done.headers["Location"] == "/libeo/factures/"
    assert meg_connection(meg_app) is not None


def test_a_later_return_address_replaces_a_valid_one_only_if_valid(apps, meg_app):
    browser = Browser(apps)
    browser.meg_login()
    good = return_to_of(payer_links(browser)[0])
    browser.get("/libeo/connexion-meg?" + urlencode({"return_to": good}))
    browser.get("/libeo/connexion-meg/demarrer?" + urlencode({"return_to": "https://evil.example/"}))
    assert "return_to" not in libeo_session(apps, browser)["meg_connect"]


# --- the state ------------------------------------------------------------------------------------


def test_an_answer_for_another_browser_is_refused(apps, meg_app, libeo_app):
    victim, attacker = Browser(apps), Browser(apps)
    attacker.meg_login()
    attacker.follow(attacker.get("/libeo/connexion-meg/demarrer"))
    answer = attacker.post(attacker.url, data={"allow": "1", "company_id": company_id(meg_app, GARAGE)})
    callback = answer.headers["Location"]
    assert callback.startswith(f"{PUBLIC_URL}/libeo/connexion-meg/retour?")

    victim.get("/libeo/connexion-meg/demarrer")  # the victim has a dance of their own going
    refused = victim.follow(victim.get(callback))
    assert "ne correspond pas à une demande partie de ce navigateur" in page_text(refused)
    assert libeo_counts(libeo_app)["Account"] == 0
    with meg_app.app_context():
        assert meg_db.session.scalar(select(func.count()).select_from(OAuthToken)) == 0  # the code was never spent


def test_a_forged_state_is_refused(apps, meg_app, libeo_app):
    browser = Browser(apps)
    browser.meg_login()
    browser.follow(browser.get("/libeo/connexion-meg/demarrer"))
    answer = browser.post(browser.url, data={"allow": "1", "company_id": company_id(meg_app, GARAGE)})
    parts = urlsplit(answer.headers["Location"])
    params = parse_qs(parts.query)
    forged = f"{parts.path}?" + urlencode({"code": params["code"][0], "state": "etat-invente"})
    refused = browser.follow(browser.get(forged))
    assert "ne correspond pas à une demande partie de ce navigateur" in page_text(refused)
    assert libeo_counts(libeo_app)["Account"] == 0
    with meg_app.app_context():
        assert meg_db.session.scalar(select(func.count()).select_from(OAuthToken)) == 0
