"""MEG's OAuth endpoints with parameters made up by Hypothesis.

A valid request of the PKCE code flow, then some of its parameters changed,
removed or repeated, and others added, with values no client sends (quotes,
backslashes, control characters, 10 KB, numbers, Unicode). Authlib must never
be the one to answer (it raised ValueError where it should have refused).

- authorize, anonymous or signed in, shown (GET) or answered (POST
  « Autoriser »): the consent page, a redirect to the login page or to the
  client's registered address, or a French 400 page; a code only for a
  request that is valid;
- token: a token only for the right code, verifier and client; otherwise
  the RFC's error, as JSON;
- userinfo: odd Authorization headers get the RFC's error;
- and Libeo as MEG's client: its callback, in a flow it started, with
  whatever comes back in the address.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, event, given, settings

from app import register_meg_client
from models.meg.oauth import COMPANY_SCOPES

from .helpers import (
    CLIENT_REDIRECT,
    ODD_VALUES,
    consent_url,
    encoded,
    french_message,
    is_oauth_error,
    meg_login,
    odd_values,
    register_client,
)

EXAMPLES = settings(max_examples=400, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
AUTHORIZE_PARAMETERS = ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
                        "code_challenge_method"]
OTHER_PARAMETERS = ["prompt", "response_mode", "request", "request_uri", "max_age", "claims", "ui_locales",
                    "id_token_hint"]
TOKEN_PARAMETERS = ["grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret"]
# Scopes that are valid words, but not a valid list: repeated past the column's length, unknown, mixed case.
ODD_SCOPES = ["openid " * 250, "openid profile email company libeo_key admin", "OPENID", "openid\tprofile", "  "]


class OAuth:
    """MEG with its demo data, a registered client, and two browsers: anonymous and signed in."""

    def __init__(self, apps) -> None:
        from models.meg.demo import create_demo_data

        with apps.meg.app_context():
            create_demo_data()
        self.apps = apps
        self.client_id, self.secret = register_client(apps.meg)
        self.company_id = company_id(apps.meg, "Boulangerie Martin SARL")
        self.anonymous = apps.root.test_client()
        self.signed_in = apps.root.test_client()
        assert meg_login(self.signed_in).status_code == 302
        register_meg_client(apps.meg, apps.libeo)

    def valid_authorization(self) -> tuple[dict[str, str], str]:
        """The parameters of a valid authorization request, and its code_verifier."""
        url, verifier = consent_url(self.client_id)
        return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}, verifier

    def code(self) -> tuple[str, str]:
        """A fresh authorization code and its verifier."""
        url, verifier = consent_url(self.client_id, scope="openid profile")
        answer = self.signed_in.post(url, data={"allow": "1"})
        return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0], verifier

    def basic(self, client_id: str | None = None, secret: str | None = None) -> dict[str, str]:
        pair = f"{client_id or self.client_id}:{secret or self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def company_id(meg_app, name: str) -> int:
    from sqlalchemy import select

    from models.meg import Company, db

    with meg_app.app_context():
        return db.session.scalar(select(Company.id).where(Company.name == name))


@pytest.fixture(scope="module")
def oauth(make_module_apps):
    return OAuth(make_module_apps())


def changed(
    valid: dict[str, str], changes: dict[str, str | None], extra: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The valid parameters with ``changes`` (None removes one), then ``extra`` ones (maybe repeating some)."""
    pairs = [(k, changes.get(k, v)) for k, v in valid.items() if changes.get(k, v) is not None]
    pairs += [(k, v) for k, v in changes.items() if k not in valid and v is not None]
    return pairs + extra


def parameter_changes(names: list[str]):
    """Often none, so that the valid path, and what lies behind it, is taken too."""
    changes = st.dictionaries(st.sampled_from(names), st.one_of(st.none(), odd_values, st.sampled_from(ODD_SCOPES)),
                              min_size=1, max_size=3)
    return st.one_of(st.just({}), changes)


def extra_parameters(names: list[str]):
    extra = st.lists(st.tuples(st.one_of(st.sampled_from(names), st.text(max_size=8)), odd_values), min_size=1,
                     max_size=2)
    return st.one_of(st.just([]), extra)


# --- authorize ----------------------------------------------------------------------------------


@EXAMPLES
@given(
    changes=parameter_changes(AUTHORIZE_PARAMETERS + OTHER_PARAMETERS),
    extra=extra_parameters(AUTHORIZE_PARAMETERS + OTHER_PARAMETERS),
    raw=st.booleans(),
    who=st.sampled_from(["anonymous", "signed_in"]),
    answer=st.sampled_from(["show", "allow", "deny", "allow for a company that is not theirs"]),
)
def test_authorize_answers_any_parameters_with_a_page_or_a_redirect(oauth, changes, extra, raw, who, answer):
    valid, _ = oauth.valid_authorization()
    pairs = changed(valid, changes, extra)
    query = encoded(pairs, raw)
    browser = getattr(oauth, who)
    form = {"show": None, "allow": {"allow": "1", "company_id": oauth.company_id}, "deny": {"deny": "1"},
            "allow for a company that is not theirs": {"allow": "1", "company_id": "99999999999"}}[answer]
    if form is None:
        response = browser.get("/meg/oauth/authorize", query_string=query)
    else:
        response = browser.post("/meg/oauth/authorize", query_string=query, data=form)
    where = f"{who} {answer} ?{query[:200]!r}"

    assert response.status_code in (200, 302, 400), where
    event(f"{response.status_code} {urlsplit(response.headers.get('Location', '')).query.split('=')[0]}")
    if response.status_code == 302:
        location = response.headers["Location"]
        if who == "anonymous" and location.startswith("/meg/connexion?next="):
            return
        # Back to the client only at the address it registered, with a code only when « Autoriser » was pressed.
        assert location.startswith(CLIENT_REDIRECT + "?"), f"{where} → {location}"
        returned = parse_qs(urlsplit(location).query)
        if "error" in returned:
            return
        assert "code" in returned and who == "signed_in" and answer.startswith("allow"), f"{where} → {location}"
        # Someone else's company is never accepted: a code then means no company was asked for.
        if answer != "allow":
            assert not set(dict(pairs).get("scope", "").split()) & COMPANY_SCOPES, f"{where} → {location}"
    else:
        assert french_message(response), f"{where} → {response.status_code}"


# --- token --------------------------------------------------------------------------------------

# What an HTTP header can carry at all (no line break; werkzeug refuses them before MEG sees them).
header_values = st.one_of(
    st.sampled_from([v for v in ODD_VALUES if v.isascii() and "\r" not in v and "\n" not in v]),
    st.text(st.characters(max_codepoint=0x7F, exclude_characters="\r\n"), max_size=60),
)
authorization_headers = st.one_of(
    st.just("valid"),
    st.just(None),
    header_values.map(lambda v: f"Basic {v}"),
    st.binary(max_size=40).map(lambda b: "Basic " + base64.b64encode(b).decode()),
)


@EXAMPLES
@given(
    real_code=st.booleans(),
    changes=parameter_changes(TOKEN_PARAMETERS),
    extra=extra_parameters(TOKEN_PARAMETERS),
    authorization=authorization_headers,
    in_query=st.booleans(),
)
def test_token_answers_any_parameters_with_a_token_or_the_rfc_error(oauth, real_code, changes, extra, authorization,
                                                                     in_query):
    code, verifier = oauth.code() if real_code else ("un-code-inconnu", "v" * 43)
    valid = {"grant_type": "authorization_code", "code": code, "redirect_uri": CLIENT_REDIRECT,
             "code_verifier": verifier}
    pairs = changed(valid, changes, extra)
    headers = oauth.basic() if authorization == "valid" else {"Authorization": authorization} if authorization else {}
    if in_query:
        response = oauth.anonymous.post("/meg/oauth/token", query_string=encoded(pairs, raw=False), headers=headers)
    else:
        body = encoded(pairs, raw=False)
        response = oauth.anonymous.post("/meg/oauth/token", data=body, headers={
            **headers, "Content-Type": "application/x-www-form-urlencoded"})
    where = f"{pairs!r:.300} {headers}"

    assert response.status_code in (200, 400, 401), f"{where} → {response.status_code}"
    event(f"{response.status_code} {(response.get_json(silent=True) or {}).get('error', '')}")
    if response.status_code == 200:
        # Only the right code, verifier and return address, from the authenticated client, get a token.
        sent = dict(pairs)
        assert real_code and authorization == "valid" and all(sent.get(k) == v for k, v in valid.items()), where
        assert response.get_json()["token_type"].lower() == "bearer"
    else:
        assert is_oauth_error(response), f"{where} → {response.get_data(as_text=True)[:300]}"


# --- userinfo ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, database=None)
@given(value=header_values,
       scheme=st.sampled_from(["Bearer ", "bearer ", "Basic ", "", "Bearer  "]))
def test_userinfo_answers_odd_credentials_with_the_rfc_error(oauth, value, scheme):
    response = oauth.anonymous.get("/meg/oauth/userinfo", headers={"Authorization": scheme + value})
    assert response.status_code in (400, 401), (scheme, value)
    assert is_oauth_error(response)


def test_a_valid_exchange_still_gives_a_token(oauth):
    """The fuzzers above refuse nearly everything: the plain path must still work."""
    code, verifier = oauth.code()
    response = oauth.anonymous.post("/meg/oauth/token", headers=oauth.basic(), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CLIENT_REDIRECT, "code_verifier": verifier})
    assert response.status_code == 200 and response.get_json()["access_token"]
    userinfo = oauth.anonymous.get("/meg/oauth/userinfo",
                                   headers={"Authorization": f"Bearer {response.get_json()['access_token']}"})
    assert userinfo.status_code == 200


# --- Libeo's callback, as MEG's client ----------------------------------------------------------

CALLBACK_PARAMETERS = ["code", "state", "error", "error_description", "error_uri", "iss", "scope"]


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(changes=parameter_changes(CALLBACK_PARAMETERS), extra=extra_parameters(CALLBACK_PARAMETERS), raw=st.booleans())
def test_libeo_callback_answers_whatever_comes_back(oauth, changes, extra, raw):
    # A browser per flow: Libeo keeps each unfinished flow's state in its session cookie.
    browser = oauth.apps.root.test_client()
    start = browser.get("/libeo/connexion-meg/demarrer")
    assert start.status_code == 302
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    query = encoded(changed({"code": "un-code-inconnu", "state": state}, changes, extra), raw)

    response = browser.get("/libeo/connexion-meg/retour", query_string=query)

    event(f"{response.status_code} {response.headers.get('Location', '')}")
    assert response.status_code in (302, 400), (query[:200], response.status_code)
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/libeo/connexion-meg"), response.headers["Location"]
    else:
        assert french_message(response)
