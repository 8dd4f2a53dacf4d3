"""« Me connecter avec MEG » with the two products deployed apart: the OAuth dance over real sockets (the
browser between two hosts, Libeo's server calling MEG's token and userinfo endpoints), then Libeo handing the
new key to MEG (``PUT /api/v1/libeo-key``) — and what each side says when that hand-over's answer is lost after
MEG kept the key, when MEG is down, and when MEG refuses the key for a missing authentication code. Afterwards
MEG's « Options » and Libeo's « Intégrations » tell the same story."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import urljoin

import pytest
from sqlalchemy import text

from tests.helpers import totp_code

from .deployment import CSRF_FIELD, Deployment, WebClient
from .fault_proxy import FaultProxy

GARAGE = "Garage Leroy SAS"
GERANT = "gerant@garage-leroy.fr"
MEG_PASSWORD = "demo-meg-2026"
LIBEO_PASSWORD = "pistons-et-bougies-2026"
KEY_HANDOVER = r"^PUT /api/v1/libeo-key "
CONNECTED = "La connexion est établie : « Payer » fonctionne maintenant dans MEG."


class MegBehindProxy:
    """Both products apart; everything that reaches MEG (the browser and Libeo's server) goes through a
    fault proxy, which MEG's PUBLIC_URL names (the issuer Libeo's OAuth client expects)."""

    def __init__(self, tmp_path, worker: str) -> None:
        self.apart = Deployment(tmp_path, worker)
        self.proxy = FaultProxy(self.apart.sides["meg"].port)
        self.meg_url = f"http://127.0.0.1:{self.proxy.port}"
        self.apart.sides["meg"].env["PUBLIC_URL"] = self.meg_url
        self.apart.sides["libeo"].env["MEG_URL"] = self.meg_url
        # No fault here is slowness: a loaded machine (browser tests beside) must not make a hand-over's answer
        # late enough to be told as lost (the deployment's 3 s suit the tests that make answers late on purpose).
        self.apart.sides["libeo"].env["HTTP_TIMEOUT"] = "15"
        self.apart.sides["meg"].env["HTTP_TIMEOUT"] = "15"
        self.libeo_url = self.apart.url("libeo")
        self.apart.set_up()
        created = self.apart.flask("meg", "meg", "oauth-client", "create", "--name", "Libeo",
                                   "--redirect-uri", f"{self.libeo_url}/connexion-meg/retour",
                                   "--scope", "openid profile email company libeo_key")
        client = json.loads(created.stdout.strip().splitlines()[-1])
        self.apart.sides["libeo"].env.update({"MEG_OAUTH_CLIENT_ID": client["client_id"],
                                              "MEG_OAUTH_CLIENT_SECRET": client["client_secret"]})
        self.apart.start("meg")
        self.apart.start("libeo")

    def close(self) -> None:
        self.apart.close()
        self.proxy.close()

    def meg_connection(self) -> tuple[str, str] | None:
        """MEG's connection of the garage: (its state, the key's prefix), or None."""
        engine = self.apart.engine("meg")
        with engine.connect() as connection:
            row = connection.execute(text(
                "SELECT l.state, l.key_prefix FROM libeo_connection l JOIN company c ON c.id = l.company_id "
                "WHERE c.name = :name"), {"name": GARAGE}).first()
        engine.dispose()
        return None if row is None else (str(row.state).lower(), row.key_prefix)

    def meg_holds_a_valid_key(self) -> bool:
        """MEG's connection is active and its key (MEG keeps its first 12 characters) is one Libeo honours."""
        state = self.meg_connection()
        return state is not None and state[0] == "active" and any(
            prefix.startswith(state[1]) for prefix in self.libeo_active_keys())

    def libeo_active_keys(self) -> list[str]:
        engine = self.apart.engine("libeo")
        with engine.connect() as connection:
            prefixes = list(connection.scalars(text("SELECT prefix FROM api_key WHERE revoked_at IS NULL")))
        engine.dispose()
        return prefixes


@pytest.fixture
def apart(tmp_path, worker_id_safe):
    deployed = MegBehindProxy(tmp_path, worker_id_safe)
    yield deployed
    deployed.close()


def _csrf(page: str) -> str:
    return CSRF_FIELD.search(page).group(1)


def _follow(browser: WebClient, response, limit: int = 10):
    for _ in range(limit):
        if response.status_code not in (301, 302, 303):
            return response
        # As a browser does: a relative Location is read from the page that answered.
        response = browser.get(urljoin(response.url, response.headers["Location"]), allow_redirects=False)
    raise AssertionError("too many redirects")


def _sign_in_with_meg(apart: MegBehindProxy) -> WebClient:
    """One browser, signed in MEG as the garage's manager (an « Achats » administrator)."""
    browser = WebClient(apart.libeo_url)
    signed = browser.submit(f"{apart.meg_url}/connexion", data={"email": GERANT, "password": MEG_PASSWORD},
                            allow_redirects=False)
    assert signed.status_code == 302, WebClient.text(signed)[:300]
    return browser


def _consent(apart: MegBehindProxy, browser: WebClient):
    """« Me connecter avec MEG » → MEG's consent « Autoriser » for the garage → back in Libeo (redirects
    followed)."""
    consent = _follow(browser, browser.get("/connexion-meg/demarrer", allow_redirects=False))
    shown = WebClient.text(consent)
    assert "Libeo souhaite accéder à votre compte MEG" in shown, shown[:400]
    garage = re.search(r'<option[^>]* value="(\d+)"[^>]*>\s*' + re.escape(GARAGE), consent.text).group(1)
    answer = browser.post(consent.url, data={"csrf_token": _csrf(consent.text), "allow": "1", "company_id": garage},
                          allow_redirects=False)
    assert answer.status_code == 302, (answer.status_code, WebClient.text(answer)[:1500], consent.text[:3000])
    assert answer.headers["Location"].startswith(f"{apart.libeo_url}/connexion-meg/retour?"), answer.text[:300]
    return _follow(browser, browser.get(answer.headers["Location"], allow_redirects=False))


def _consent_and_account(apart: MegBehindProxy, browser: WebClient, *, meg_stops_before_the_key: bool = False):
    """The consent, then Libeo's account-creation form filled (MEG stopped in between if asked)."""
    form = _consent(apart, browser)
    if meg_stops_before_the_key:
        apart.apart.stop("meg")
    made = browser.post("/connexion-meg/compte", allow_redirects=False, data={
        "csrf_token": _csrf(form.text), "company_name": GARAGE, "email": GERANT, "full_name": "Marc Leroy",
        "plan": "gratuit", "password": LIBEO_PASSWORD, "terms": "y"})
    assert made.status_code == 302, WebClient.text(made)[:500]
    return _follow(browser, made)


def _meg_options(apart: MegBehindProxy, browser: WebClient) -> str:
    return WebClient.text(browser.get(f"{apart.meg_url}/achats/options"))


def test_the_dance_and_the_key_over_real_sockets(apart):
    browser = _sign_in_with_meg(apart)
    landing = _consent_and_account(apart, browser)
    assert CONNECTED in WebClient.text(landing)
    assert apart.meg_holds_a_valid_key()
    assert "La connexion est établie avec le compte Libeo « Garage Leroy SAS »" in _meg_options(apart, browser)


def test_an_answer_lost_after_meg_kept_the_key_is_not_told_as_a_failure(apart):
    """MEG kept the key, its « 200 » was lost: Libeo must not say the account is « pas encore connecté »
    while MEG pays with it."""
    browser = _sign_in_with_meg(apart)
    apart.proxy.drop_answers(KEY_HANDOVER, times=1)
    landing = _consent_and_account(apart, browser)
    assert apart.proxy.dropped and apart.proxy.dropped[0].startswith("PUT /api/v1/libeo-key")  # the fault did happen
    told = WebClient.text(landing)
    assert apart.meg_holds_a_valid_key()
    assert "La connexion est établie avec le compte Libeo « Garage Leroy SAS »" in _meg_options(apart, browser)
    assert "pas encore connecté à MEG" not in told
    assert CONNECTED in told


def test_meg_down_during_the_hand_over_says_it_cannot_know_and_a_later_try_connects(apart):
    browser = _sign_in_with_meg(apart)
    # MEG stops after its consent, before Libeo hands the key over: neither try reaches it.
    landing = _consent_and_account(apart, browser, meg_stops_before_the_key=True)
    told = WebClient.text(landing)
    assert apart.meg_connection() is None and len(apart.libeo_active_keys()) == 1
    assert "pas encore connecté à MEG" not in told and "fonctionne maintenant dans MEG" not in told
    assert "Libeo ne peut pas savoir s'il l'a enregistrée" in told and "Vérifiez dans MEG" in told
    assert "dans MEG, cliquez sur « Payer » puis sur « Me connecter avec MEG »" in told

    apart.apart.start("meg")
    # As told: « Payer » in MEG, then « Me connecter avec MEG ».
    settle = browser.get(f"{apart.meg_url}/achats/reglements")
    payer = unescape(re.search(r'<a class="button primary small" href="([^"]+)">Payer</a>', settle.text).group(1))
    assert payer.startswith(f"{apart.libeo_url}/connexion-meg?return_to=")
    browser.get(payer)
    back = _consent(apart, browser)
    assert back.url.startswith(f"{apart.meg_url}/achats/factures/"), WebClient.text(back)[:500]
    assert "La connexion est établie avec le compte Libeo « Garage Leroy SAS »" in _meg_options(apart, browser)
    assert apart.meg_holds_a_valid_key()


def _enrol_in_meg(apart: MegBehindProxy, browser: WebClient) -> None:
    """MEG « Sécurité »: the authentication app activated with its first code."""
    security = browser.get(f"{apart.meg_url}/securite")
    assert browser.post(f"{apart.meg_url}/securite/application", allow_redirects=False,
                        data={"csrf_token": _csrf(security.text)}).status_code == 302
    page = browser.get(f"{apart.meg_url}/securite/application")
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page.text).group(1).replace(" ", "")
    done = browser.post(f"{apart.meg_url}/securite/application/confirmer",
                        data={"csrf_token": _csrf(page.text), "code": totp_code(secret, -1)})
    assert re.search(r"<li>[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}</li>", done.text), WebClient.text(done)[:300]


def test_megs_refusal_for_a_missing_code_heard_on_the_second_try_revokes_the_key(apart):
    """The manager enrolled MEG's authentication app and left its code empty on the consent screen: MEG refuses
    the key (401). That refusal's first answer is lost; the second try hears it: the key is revoked, nobody
    holds one, and Libeo says to give MEG the code."""
    browser = _sign_in_with_meg(apart)
    _enrol_in_meg(apart, browser)
    apart.proxy.drop_answers(KEY_HANDOVER, times=1)
    landing = _consent_and_account(apart, browser)
    told = WebClient.text(landing)
    assert "la double authentification est activée pour vous dans MEG" in told
    assert apart.meg_connection() is None and apart.libeo_active_keys() == []
    assert "La connexion est établie" not in _meg_options(apart, browser)
    assert len(apart.proxy.dropped) == 1
