"""Every route of both products, as each kind of person, with odd ids and odd query strings.

Routes come from the URL maps: a route added tomorrow is fuzzed tomorrow.
Each role calls each route with each method it takes:

- with every value of ``ODD_PATH_VALUES`` in its path parameters (beyond 32
  and 64 bits, zero, negative, text, NUL, an escaped ``../``…);
- with its own ids and a few odd query strings, then with query strings
  Hypothesis makes up (repeated keys, control characters, 10 KB values,
  numbers no column holds, broken percent-escapes…).

Answers allowed: no 5xx (but a French 503 where Stripe, not started here,
is needed); an error in French (a ``lang="fr"`` page, or JSON whose message
is French; MEG's OAuth endpoints answer programs with the RFC's error
codes); redirects only to this site. Exceptions propagate in tests, so a
crash fails here with its traceback.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import quote

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from .conftest import own_path_values, populate
from .helpers import (
    LIBEO_PASSWORD,
    WEBHOOK_SECRET,
    encoded,
    french_message,
    is_oauth_error,
    libeo_login,
    meg_login,
    odd_values,
)
from .test_isolation_matrix import SERVICE_DOWN_OK

ODD_PATH_VALUES = [
    "0", "-1", str(2**31 - 1), str(2**31), str(2**63 - 1), str(2**63), str(2**64), "9" * 20, "facture",
    "%00", "..%2F", "%2e%2e%2f%2e%2e%2f", "%C3%A9", "1%0A", "1.5", "１２",
]
# Odd query strings every route gets at least once (Hypothesis adds its own).
FIXED_QUERIES = [
    "page=99999999999999999999&page=-1",
    "page=%C2%B2&next=%2F%2Fevil.example%2F",
    "next=%5C%5Cevil.example&return_to=javascript%3Aalert(1)",
    "%zz=%&=&&a=%00%ff%fe",
    "state=" + "a" * 10_240,
    "prompt=%22%5C%0D%0A&client_id=%00&redirect_uri=%22",
]
SIDES = {"meg": "/meg", "libeo": "/libeo"}
MEG_ROLES = {
    "anonyme": None,
    "utilisateur": "compta@boulangerie-martin.fr",
    "administrateur": "admin@boulangerie-martin.fr",
    "expert-comptable": "expert@cabinet-durand.fr",
    "autre entreprise": "gerant@garage-leroy.fr",
}
LIBEO_ROLES = {"anonyme": False, "compte Libeo (session et clé d'API)": True}
ROLES = [("meg", role) for role in MEG_ROLES] + [("libeo", role) for role in LIBEO_ROLES]

# Calls after which a visitor signs in again, or gets a new API key, to keep fuzzing as themselves.
SIGNS_OUT = {("meg", "auth.logout"), ("libeo", "auth.logout")}
REVOKES_KEY = {("libeo", "settings.revoke_meg")}
# MEG's endpoints for OAuth clients: errors in the RFCs' shape.
OAUTH_ENDPOINTS = {"oauth.issue_token", "oauth.userinfo"}
# Where a redirect may lead: this site (relative, or under PUBLIC_URL in the tests).
SAFE_LOCATION = re.compile(r"^(/(?![/\\])|http://127\.0\.0\.1:5000/|http://localhost/)")

QUERY_EXAMPLES_PER_ROUTE = 5
PARAMETER = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


@pytest.fixture(scope="module")
def fuzz_world(make_module_apps):
    apps = make_module_apps(libeo={"LOCALSTRIPE_URL": "http://127.0.0.1:9", "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET})
    return populate(apps)


class Visitor:
    """One role on one side, in its own browser; signed in again (new key) after a call that undid it."""

    def __init__(self, world, side: str, role: str) -> None:
        self.world, self.side = world, side
        self.who = MEG_ROLES[role] if side == "meg" else LIBEO_ROLES[role]
        self.client = world.apps.root.test_client()
        self.headers: dict[str, str] = {}
        self.sign_in()
        if side == "libeo" and self.who:
            self.new_key()

    def sign_in(self) -> None:
        if not self.who:
            return
        if self.side == "meg":
            assert meg_login(self.client, self.who).status_code == 302
        else:
            assert libeo_login(self.client, self.world.libeo["boulangerie_email"], LIBEO_PASSWORD).status_code == 302

    def new_key(self) -> None:
        from models.libeo import Account, db
        from models.libeo.accounts.keys import issue_meg_api_key

        with self.world.apps.libeo.app_context():
            key = issue_meg_api_key(db.session.get(Account, self.world.libeo["boulangerie"]))
            db.session.commit()
        self.headers = {"Authorization": f"Bearer {key}"}

    def call(self, endpoint: str, method: str, path: str, query: str = ""):
        # Buffered: the body is read and closed at once, as a server sends it (a streamed export left
        # unread would be closed later, outside its request).
        response = self.client.open(path, method=method, query_string=query, headers=self.headers, buffered=True)
        if self.who and method != "GET":
            if (self.side, endpoint) in SIGNS_OUT:
                self.sign_in()
            if (self.side, endpoint) in REVOKES_KEY:
                self.new_key()
        return response


def routes(app, side: str):
    """(endpoint, method, rule) for every rule of the app and every method it takes."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, rule


def path_with(side: str, rule, value_of) -> str:
    """The rule's path with each parameter replaced by ``value_of(name)``, written as is (no escaping)."""
    return SIDES[side] + PARAMETER.sub(lambda m: value_of(m.group(1)), rule.rule)


def own_value(world, side: str, name: str) -> str:
    """A path value that belongs to Boulangerie Martin, the company of most roles."""
    own = own_path_values(world, side)
    if name == "filename":
        return "css/app.css"
    assert name in own, f"{side}: give the fuzzer an own value for the path parameter {name!r} (own_value)"
    return quote(str(own[name]), safe="")


def check(response, where: str, endpoint: str) -> None:
    status = response.status_code
    if status >= 500:
        assert status == 503 and endpoint in SERVICE_DOWN_OK, f"{where} → {status}"
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        assert SAFE_LOCATION.match(location), f"{where} → {status} to {location!r}"
        return
    if status == 204 or status < 400 and response.mimetype != "text/html":
        return  # no content, a document, a stylesheet, an API's answer
    if endpoint in OAUTH_ENDPOINTS and is_oauth_error(response):
        return
    assert french_message(response), f"{where} → {status}: {response.get_data(as_text=True)[:300]!r}"


@pytest.mark.parametrize("side, role", ROLES, ids=[f"{s}-{r}" for s, r in ROLES])
def test_odd_ids_and_query_strings_on_every_route(fuzz_world, side, role):
    visitor = Visitor(fuzz_world, side, role)
    app = getattr(fuzz_world.apps, side)
    statuses = Counter()
    for endpoint, method, rule in routes(app, side):
        for value in ODD_PATH_VALUES if rule.arguments else ():
            path = path_with(side, rule, lambda _, value=value: value)
            response = visitor.call(endpoint, method, path)
            check(response, f"{role}: {method} {path}", endpoint)
            statuses[response.status_code] += 1
        path = path_with(side, rule, lambda name: own_value(fuzz_world, side, name))
        for query in FIXED_QUERIES:
            response = visitor.call(endpoint, method, path, query)
            check(response, f"{role}: {method} {path}?{query[:80]}", endpoint)
            statuses[response.status_code] += 1
    assert sum(statuses.values()) > 100
    # Signed in, the role reached pages (a fuzzer that only met the login page would prove little).
    assert statuses[200] > (20 if visitor.who else 0), statuses


# --- query strings made up by Hypothesis --------------------------------------------------------

# Names the products read, and a few they do not.
QUERY_NAMES = ["page", "next", "return_to", "prompt", "after", "limit", "state", "code", "error", "client_id",
               "response_type", "redirect_uri", "scope", "nonce", "code_challenge", "code_challenge_method", "q", "id"]
query_pairs = st.lists(st.tuples(st.one_of(st.sampled_from(QUERY_NAMES), st.text(max_size=8)), odd_values), max_size=6)


@pytest.mark.parametrize("side, role", ROLES, ids=[f"{s}-{r}" for s, r in ROLES])
def test_query_strings_made_up_by_hypothesis(fuzz_world, side, role):
    visitor = Visitor(fuzz_world, side, role)
    app = getattr(fuzz_world.apps, side)
    calls = [(endpoint, method, path_with(side, rule, lambda name: own_value(fuzz_world, side, name)))
             for endpoint, method, rule in routes(app, side)]

    @settings(max_examples=QUERY_EXAMPLES_PER_ROUTE * len(calls), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(call=st.sampled_from(calls), pairs=query_pairs, raw=st.booleans())
    def run(call, pairs, raw):
        endpoint, method, path = call
        query = encoded(pairs, raw)
        check(visitor.call(endpoint, method, path, query), f"{role}: {method} {path}?{query[:120]!r}", endpoint)

    run()


def test_every_endpoint_the_fuzzer_names_exists(fuzz_world):
    for side, endpoint in SIGNS_OUT | REVOKES_KEY | {("meg", e) for e in OAUTH_ENDPOINTS}:
        assert endpoint in getattr(fuzz_world.apps, side).view_functions, (side, endpoint)
