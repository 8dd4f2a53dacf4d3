"""Every form and every API operation, with any Unicode in any field, and bodies over the limits.

Forms: every route of both URL maps that takes a POST, PUT or DELETE, as
each kind of person, with a body holding every field of every form of both
products (``core.forms.Form`` and its subclasses: a form added tomorrow is
fuzzed tomorrow). Most fields carry a plausible value, so that an example
gets past them; Hypothesis puts any text it likes in the others: lone
surrogates (sent as the bytes a broken client would send), NUL and other
controls, other scripts, emoji, combining marks, very long text.

API operations: Libeo's JSON bodies (an invoice, a payment with its invoice)
with any text, lone surrogates escaped as JSON allows, in any field, under
any name; MEG's ``PUT /api/v1/libeo-key`` likewise.

Oversized: a body just over each route's limit, as a form, as JSON and as a
file upload.

Answers allowed are those of test_fuzzing_routes.py: never a 5xx, errors in
French, redirects only to this site.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from io import BytesIO
from urllib.parse import quote_from_bytes

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from core.forms import Form
from tests.libeo.conftest import valid_iban

from .conftest import populate
from .helpers import WEBHOOK_SECRET, french_message
from .test_fuzzing_routes import REVOKES_KEY, ROLES, SIGNS_OUT, Visitor, check, own_value, path_with, routes

EXAMPLES_PER_ROUTE = 4
API_EXAMPLES = 150
WRITE_METHODS = {"POST", "PUT", "DELETE", "PATCH"}

# Any character, lone surrogates included (Hypothesis leaves them out unless asked), and a few kinds
# of text drawn more often than chance would.
any_character = st.one_of(st.characters(), st.characters(categories=["Cs"]))
odd_text = st.one_of(
    st.text(any_character, max_size=40),
    st.sampled_from(["\x00", "\ud800", "a\udfffb", "\u200b", "\u202eabc", "😀", "شركة التجارة", "e\u0301" * 150,
                     "\r\n", "\t", "\x1b[31m", "\ufeff", "Ω" * 5_000, "%00", "\\", "'\"<>"]),
)


# Odd texts every field of every form gets on every route, whatever Hypothesis draws besides.
EVERY_FIELD_ODD = ["\x00", "a\ud800b", "\u200b", "\x1b[2J", "😀 شركة", "e\u0301" * 300]


def every_form_field() -> dict[str, str]:
    """Every field name of every form of both products (subclasses of ``core.forms.Form``), with its kind."""
    fields: dict[str, str] = {}
    pending = list(Form.__subclasses__())
    while pending:
        form = pending.pop()
        pending += form.__subclasses__()
        for base in form.__mro__:
            for name, unbound in vars(base).items():
                if hasattr(unbound, "field_class"):
                    fields.setdefault(name, unbound.field_class.__name__)
    return fields


def after_call(visitor: Visitor, side: str, endpoint: str) -> None:
    """Signed in again (a new API key) after a call that undid it, to keep fuzzing as themselves."""
    if visitor.who and (side, endpoint) in SIGNS_OUT:
        visitor.sign_in()
    if visitor.who and (side, endpoint) in REVOKES_KEY | {("libeo", "api.delete_key")}:
        visitor.new_key()


def plausible_values(world) -> dict[str, str]:
    """A value each field would accept, so that an example reaches the field it makes odd.

    Passwords are wrong ones: an example must never change a person's password or sign-in.
    """
    return {
        "email": "quelqu-un@exemple.fr", "password": "pas-le-bon-mot-de-passe", "current_password": "pas-le-bon",
        "new_password": "un-nouveau-mot-de-passe-2026", "confirm": "un-nouveau-mot-de-passe-2026",
        "number": "F-2026-1", "name": "Minoterie Dupuis", "supplier_name": "Minoterie Dupuis",
        "company_name": "Boulangerie Martin SARL", "full_name": "Claire Martin", "siret": "83451234500002",
        "supplier_siret": "", "iban": valid_iban(4242), "supplier_iban": valid_iban(4243), "bic": "",
        "supplier_bic": "", "issue_date": "2026-10-01", "due_date": "2026-10-31", "execution_date": "",
        "amount": "12,50", "payment_mode": "LIBEO", "supplier_id": str(world.meg["boulangerie_supplier"]),
        "company_id": str(world.meg["boulangerie"]), "threshold": "100", "reason": "Facture en double",
        "plan": "gratuit", "terms": "y", "api_key": "lbo_live_pas-une-vraie-cle", "setup_intent": "seti_1",
        "iban_choice": "garder", "next": "/", "accountant_payments": "",
    }


def form_body(values: dict[str, str]) -> bytes:
    """The body a browser would send, except that a lone surrogate goes as the bytes a broken client sends."""
    def encoded(text: str) -> str:
        return quote_from_bytes(text.encode("utf-8", "surrogatepass"))

    return "&".join(f"{encoded(name)}={encoded(value)}" for name, value in values.items()).encode("ascii")


@pytest.fixture(scope="module")
def form_world(make_module_apps):
    """The one world of this module (on PostgreSQL a second one would empty the same databases), with an
    access token to MEG's API taken before any fuzzing (an OAuth dance of Boulangerie Martin's administrator)."""
    from tests.conftest import MegAuth
    from tests.meg.conftest import access_token_for

    apps = make_module_apps(libeo={"LOCALSTRIPE_URL": "http://127.0.0.1:9", "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET})
    world = populate(apps)
    client = apps.root.test_client()
    world.keys["meg_access_token"] = access_token_for(client, apps.meg, MegAuth(client), "admin@boulangerie-martin.fr")
    return world


def write_calls(world, side: str) -> list[tuple[str, str, str]]:
    app = getattr(world.apps, side)
    return [(endpoint, method, path_with(side, rule, lambda name: own_value(world, side, name)))
            for endpoint, method, rule in routes(app, side) if method in WRITE_METHODS]


@pytest.mark.parametrize("side, role", ROLES, ids=[f"{s}-{r}" for s, r in ROLES])
def test_any_unicode_in_any_field_of_any_form(form_world, side, role):
    visitor = Visitor(form_world, side, role)
    fields = every_form_field()
    plausible = plausible_values(form_world)
    calls = write_calls(form_world, side)
    statuses: Counter = Counter()
    for endpoint, method, path in calls:
        for text in EVERY_FIELD_ODD:
            values = dict.fromkeys(fields, text)
            response = visitor.client.open(path, method=method, data=form_body(values), headers=visitor.headers,
                                           content_type="application/x-www-form-urlencoded")
            after_call(visitor, side, endpoint)
            check(response, f"{role}: {method} {path}, every field {text[:20]!r}", endpoint)
            statuses[response.status_code] += 1

    @settings(max_examples=EXAMPLES_PER_ROUTE * len(calls), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(call=st.sampled_from(calls), odd=st.dictionaries(st.sampled_from(sorted(fields)), odd_text, min_size=1,
                                                            max_size=4))
    def run(call, odd):
        endpoint, method, path = call
        values = {name: plausible.get(name, "") for name in fields} | odd
        response = visitor.client.open(path, method=method, data=form_body(values), headers=visitor.headers,
                                       content_type="application/x-www-form-urlencoded")
        after_call(visitor, side, endpoint)
        check(response, f"{role}: {method} {path} {sorted(odd)!r}: {list(odd.values())!r}"[:400], endpoint)
        statuses[response.status_code] += 1

    run()
    assert sum(statuses.values()) >= (EXAMPLES_PER_ROUTE + len(EVERY_FIELD_ODD)) * len(calls)
    if visitor.who:  # signed in, the examples reached the forms (a 200 re-shows one with its messages)
        assert statuses[200] >= 10, statuses


def test_the_fuzzer_knows_every_form_field():
    """Forms are found by their class: a form written outside ``core.forms.Form`` would escape the door."""
    import blueprints.libeo.factory  # noqa: F401 - every form module is imported by the factories
    import blueprints.meg.factory  # noqa: F401
    from tests.conftest import build_apps  # noqa: F401

    fields = every_form_field()
    for name in ("number", "supplier_name", "name", "company_name", "iban", "reason", "email", "current_password",
                 "api_key", "threshold", "setup_intent", "supplier_iban", "full_name"):
        assert name in fields, name


# --- API operations -----------------------------------------------------------------------------

API = "/libeo/api/v1"


def invoice_shape() -> dict:
    return {"number": "F-1", "supplier": {"name": "Minoterie Dupuis", "iban": valid_iban(4244), "bic": None},
            "amount_cents": 1250, "currency": "EUR", "issue_date": "2026-10-01", "due_date": "2026-10-31"}


def text_paths(value, path=()):
    """The paths of every string in a JSON document."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from text_paths(item, (*path, name))


def with_text(document, path, text):
    if not path:
        return text
    changed = dict(document)
    changed[path[0]] = with_text(document[path[0]], path[1:], text)
    return changed


@st.composite
def odd_documents(draw, document: dict):
    """``document`` with odd text in some of its strings, and now and then an odd name or value added."""
    paths = list(text_paths(document))
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3, unique=True)):
        document = with_text(document, path, draw(odd_text))
    if draw(st.booleans()):
        document = {**document, draw(odd_text): draw(st.one_of(odd_text, st.integers(), st.none()))}
    return document


def api_check(response, where: str) -> None:
    assert response.status_code < 500, f"{where} → {response.status_code}: {response.get_data(as_text=True)[:300]}"
    if response.status_code >= 400:
        assert french_message(response), f"{where} → {response.status_code}: {response.get_data(as_text=True)[:300]}"
        body = response.get_json()
        assert set(body["error"]) >= {"code", "message", "field"}, body


@pytest.mark.parametrize("operation", ["PUT /invoices/{external_id}", "POST /invoices/{external_id}/payments"])
def test_any_unicode_in_any_field_of_libeo_api_bodies(form_world, operation):
    client = form_world.apps.root.test_client()
    visitor = Visitor(form_world, "libeo", "compte Libeo (session et clé d'API)")  # a key of its own
    headers = {**visitor.headers, "Content-Type": "application/json"}
    paying = operation.startswith("POST")
    document = ({"initiated_by": {"email": "claire@boulangerie-martin.fr", "role": "user"},
                 "execution_date": None, "invoice": invoice_shape()} if paying else invoice_shape())
    statuses: Counter = Counter()

    def send(body, external_id: str, key: str):
        # ensure_ascii: a lone surrogate goes as the JSON escape « \ud800 », as a client may send it.
        data = json.dumps(body, ensure_ascii=True)
        if paying:
            response = client.post(f"{API}/invoices/{external_id}/payments", data=data,
                                   headers={**headers, "Idempotency-Key": key})
        else:
            response = client.put(f"{API}/invoices/{external_id}", data=data, headers=headers)
        api_check(response, f"{operation} {data[:300]}")
        statuses[response.status_code] += 1
        return response

    # Each odd text in each field, alone (the rest of the body valid): it reaches every check there is.
    # Text no field may hold (a lone surrogate, a control character) is refused, naming the field.
    for n, (path, text) in enumerate((p, t) for p in text_paths(document) for t in EVERY_FIELD_ODD):
        response = send(with_text(document, path, text), f"each-{n}", f"each-{n}")
        if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
            assert response.status_code == 422, (path, text, response.get_json())
            assert response.get_json()["error"]["field"] == ".".join(path), response.get_json()

    @settings(max_examples=API_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(body=odd_documents(document), n=st.integers(0, 10**9),
           key=st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20))
    def run(body, n, key):
        send(body, f"fuzz-{n}", key or f"k-{n}")

    run()
    assert statuses[422] > API_EXAMPLES // 3, statuses


def test_any_unicode_in_megs_libeo_key_api(form_world):
    client = form_world.apps.root.test_client()
    headers = {"Authorization": f"Bearer {form_world.keys['meg_access_token']}", "Content-Type": "application/json"}

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=odd_documents({"api_key": "lbo_live_pas-une-vraie-cle"}))
    def run(body):
        response = client.put("/meg/api/v1/libeo-key", data=json.dumps(body, ensure_ascii=True), headers=headers)
        assert response.status_code < 500, response.get_data(as_text=True)[:300]
        assert response.status_code != 200
        assert french_message(response), response.get_data(as_text=True)[:300]

    run()


# --- bodies over the limits ---------------------------------------------------------------------

ONE_MB = 1024 * 1024


UPLOADS = {"einvoices.upload", "remittances.import_report", "api.put_document"}


@pytest.mark.parametrize("side, role", [("meg", "administrateur"), ("libeo", "compte Libeo (session et clé d'API)"),
                                        ("meg", "anonyme"), ("libeo", "anonyme")])
def test_bodies_over_the_limit_on_every_route_that_takes_one(form_world, side, role):
    """Just over 1 MB on every write route (just over 10 MB where a file is taken): a form, JSON, a PDF, a file."""
    visitor = Visitor(form_world, side, role)
    for endpoint, method, path in write_calls(form_world, side):
        size = (10 * ONE_MB if endpoint in UPLOADS else ONE_MB) + 1
        bodies = [
            ("application/x-www-form-urlencoded", b"number=" + b"9" * size),
            ("application/json", json.dumps({"number": "x" * size}).encode()),
            ("application/pdf", b"%PDF-1.4\n" + b"0" * size),
        ]
        for content_type, body in bodies:
            response = visitor.client.open(path, method=method, data=body, headers=visitor.headers,
                                           content_type=content_type)
            after_call(visitor, side, endpoint)
            check(response, f"{role}: {method} {path} ({content_type}, {len(body)} octets)", endpoint)
        multipart = visitor.client.open(path, method=method, headers=visitor.headers,
                                        data={"file": (BytesIO(b"x" * size), "facture.pdf"),
                                              "report": (BytesIO(b"x" * size), "releve.xml")},
                                        content_type="multipart/form-data")
        after_call(visitor, side, endpoint)
        check(multipart, f"{role}: {method} {path} (multipart, {size} octets)", endpoint)


def test_long_text_under_the_limit_in_every_field(form_world):
    """Every field at once as long as the 1 MB limit lets them be: refused by length, never a crash."""
    for side, role in [("meg", "administrateur"), ("libeo", "compte Libeo (session et clé d'API)")]:
        visitor = Visitor(form_world, side, role)
        fields = every_form_field()
        long = "é" * (ONE_MB // 7 // (len(fields) + 1))  # « %C3%A9 »: six bytes a character, names besides
        for endpoint, method, path in write_calls(form_world, side):
            response = visitor.client.open(path, method=method, headers=visitor.headers,
                                           data=form_body(dict.fromkeys(fields, long)),
                                           content_type="application/x-www-form-urlencoded")
            after_call(visitor, side, endpoint)
            check(response, f"{role}: {method} {path} (long text)", endpoint)
