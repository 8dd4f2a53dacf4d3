"""API v1 views: authenticate the key, check the body, one use case, one commit."""

from __future__ import annotations

import json
import re

from flask import Blueprint, abort, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from core.db import keep_loaded
from core.files import MAX_DOCUMENT_BYTES
from core.observability.context import note
from core.text import UnsafeText, door_json
from core.throttle import client_address, configured, refused_credentials
from core.views import pdf_response
from models.libeo import Account, Channel, InitiatorRole, Invoice, db, monitoring
from models.libeo.accounts.keys import (
    authenticate_api_key,
    cursor_given,
    end_retired_key,
    give_up_key,
    public_id_of,
    record_key_use,
)
from models.libeo.accounts.services import normalize_email
from models.libeo.errors import InvalidData, LibeoError, NotFound
from models.libeo.invoices.documents import store_invoice_document, too_large_message
from models.libeo.invoices.services import invoice_by_external_id
from models.libeo.meg_link.client import SignedInitiator, SignInFailed, read_initiator_assertion
from models.libeo.meg_link.vouching import vouch_for_key
from models.libeo.payments.by_api import (
    BAD_EXTERNAL_ID,
    ApiAnswer,
    BatchRequest,
    is_external_id,
    pay_batch_by_api,
    pay_by_api,
    upsert_api_invoice,
)
from models.libeo.payments.events import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    EventPage,
    event_json,
    events_after,
    iso_datetime,
    payment_json,
)
from models.libeo.payments.idempotency import DONE, IN_PROGRESS, STILL_RUNNING, void_key
from models.libeo.payments.order import Initiator, account_payment, cancel_on_request
from models.libeo.payments.quota import PaymentQuota
from models.libeo.payments.receipt import payment_receipt, receipt_file_name

from ..extensions import limiter
from .errors import (
    ApiError,
    domain_error_body,
    domain_error_response,
    error_response,
    unauthorized,
)
from .openapi import (
    BATCH_ITEM,
    CANCEL_BODY,
    IDEMPOTENCY_KEY_PATTERN,
    INITIATOR_HEADER,
    INVOICE_BODY,
    MAX_BATCH_ITEMS,
    MAX_INITIATOR_LENGTH,
    MIN_INITIATOR_LENGTH,
    PAYMENT_BODY,
    VOID_BODY,
    VOUCH_BODY,
    openapi_document,
)
from .validation import matches, validate

bp = Blueprint("api", __name__)

PUBLIC_ENDPOINTS = {"api.openapi"}
# What a key MEG gave up with payments in flight may still do: follow them.
RETIRED_KEY_ENDPOINTS = {"api.me", "api.payment", "api.payment_receipt_pdf", "api.events", "api.delete_key",
                         "api.void_payment_request"}
KEY_RETIRED = ("Cette clé a été retirée par MEG (« Supprimer la connexion ») : elle ne sert plus qu'à suivre les "
               "paiements déjà demandés (lecture des paiements et des événements). Pour payer ou envoyer une facture, "
               "créez une nouvelle clé dans Libeo (« Configuration » → « Intégrations ») et collez-la dans MEG.")


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def rate_limit_key() -> str:
    """Per API key (its public part) rather than per address: MEG calls for many companies."""
    public_id = public_id_of(_bearer_token())
    return f"key:{public_id}" if public_id else f"ip:{request.remote_addr}"


limiter.limit(configured("API_RATE_LIMIT"), key_func=rate_limit_key)(bp)


def request_key():
    """The request's valid API key (with its account), or None; checked once per request.

    The calls that act (every method but GET and HEAD) read the account with
    the key; the reads use its summary.
    """
    if "api_key" not in g:
        g.api_key = authenticate_api_key(_bearer_token(), with_account=request.method not in ("GET", "HEAD"))
        if g.api_key is not None:
            note(account_id=g.api_key.account_id)  # the request's log lines name the account
    return g.api_key


def presents_valid_key() -> bool:
    return request_key() is not None


# Payment creation, the API's one POST, per key. (A decorator on the view
# would be checked after authenticate() and drop the blueprint's limits.)
limiter.limit(configured("PAYMENT_LIMIT"), key_func=rate_limit_key, methods=["POST"], scope="payments")(bp)

# Refused keys are counted per address; a caller whose key is valid is never slowed by them.
limiter.shared_limit(
    configured("API_KEY_FAILURE_LIMIT"), scope="api-key-failures", key_func=client_address,
    exempt_when=presents_valid_key, deduct_when=refused_credentials,
)(bp)


@bp.before_request
def authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    key = request_key()
    if key is None:
        monitoring.key_failures().inc()
        return unauthorized()
    if key.retired and request.endpoint not in RETIRED_KEY_ENDPOINTS:
        return error_response(403, "key_retired", KEY_RETIRED)
    if record_key_use(key):
        with keep_loaded(db):  # the account read with the key stays as read
            db.session.commit()
    return None


def api_account() -> Account:
    """The key's account, for the calls that act on it (read with the key).

    The calls that only read the account's rows (``GET /me``, a payment, the
    events) use the key's summary instead: its id is all they filter by.
    """
    account = g.api_key.account
    if account is None:  # deleted since its key was read
        abort(unauthorized())
    return account


@bp.errorhandler(LibeoError)
def libeo_error(error: LibeoError):
    return domain_error_response(error)


@bp.errorhandler(ApiError)
def api_error(error: ApiError):
    return error_response(error.status, error.code, error.message, error.field)


def _reject_constant(name: str):
    raise ValueError(name)


def json_body():
    """The request's JSON, every text in it through the door (strict, NFC) before any check reads it."""
    if not request.is_json:
        raise ApiError(400, "invalid_json",
                       "Le corps de la requête doit être du JSON (Content-Type: application/json).")
    try:
        return door_json(json.loads(request.get_data(), parse_constant=_reject_constant))
    except UnsafeText as refused:  # a ValueError too: the door's refusal names the field
        raise InvalidData(refused.message, refused.field) from None
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser, or the door, goes
        raise ApiError(400, "invalid_json", "Le corps de la requête n'est pas du JSON valide.") from None


def account_json(account, quota: PaymentQuota) -> dict:
    return {
        "id": account.id,
        "name": account.name,
        "siret": account.siret,
        "plan": account.plan.code,
        "plan_label": account.plan.label,
        "payments_this_month": quota.used,
        "payment_limit": quota.limit,
        "accountant_email": account.accountant_email,
        "verified": account.is_verified,
        # Why Libeo would not execute the account's transfers now (and what lifts it); null when it would.
        "waiting_for": account.execution_blocker,
        # The approval rules that hold a payment until an administrator approves it: MEG says them before
        # « Confirmer le paiement ».
        "approval_above_cents": account.approval_threshold_cents,
        "accountant_payments_approved": account.approve_accountant_payments,
    }


def invoice_json(invoice: Invoice) -> dict:
    return {
        "external_id": invoice.external_id,
        "number": invoice.number,
        "supplier": {"name": invoice.supplier_name, "iban": invoice.supplier_iban, "bic": invoice.supplier_bic},
        "amount_cents": invoice.amount_cents,
        "totals": None if invoice.total_cents is None else {
            "net_cents": invoice.net_cents, "vat_cents": invoice.vat_cents, "total_cents": invoice.total_cents,
            "prepaid_cents": invoice.prepaid_cents, "rounding_cents": invoice.rounding_cents,
        },
        "currency": invoice.currency,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "status": invoice.status.value,
    }


@bp.get("/openapi.json")
def openapi():
    server = current_app.config["PUBLIC_URL"].rstrip("/") + request.script_root + "/api/v1"
    return jsonify(openapi_document(server))


@bp.get("/me")
def me():
    return jsonify(account_json(g.api_key.summary, g.api_key.quota))


@bp.post("/account/meg-vouch")
def meg_vouch():
    """MEG's signed word for the key's account (its Achats administrator saved the key in « Options »)."""
    body = validate(VOUCH_BODY, json_body())
    try:
        account = vouch_for_key(api_account(), body["assertion"], g.api_key.id)
    except SignInFailed as unavailable:
        db.session.rollback()
        raise ApiError(503, "meg_unreachable", unavailable.message) from unavailable
    answer = account_json(account, g.api_key.quota)
    db.session.commit()
    return jsonify(answer)


@bp.delete("/key")
def delete_key():
    """The caller gives its key up (MEG's « Supprimer la connexion »): revoked at once (204), or, while
    payments MEG asked for are in flight or events after ``after`` are unread, retired (200): it only
    follows them, then is revoked."""
    _check_parameters(("after",))
    in_flight = give_up_key(g.api_key, _cursor() if "after" in request.args else None)
    db.session.commit()
    if in_flight is None:
        return "", 204
    return jsonify({"status": "retired", "payments_in_flight": in_flight})


@bp.post("/payment-requests/void")
def void_payment_request():
    """MEG gives up a payment request it never heard answered: Libeo closes the key it never received (nothing
    will ever be created with it), or tells the answer it gave; 409 while the request still runs."""
    key = validate(VOID_BODY, json_body())["idempotency_key"]
    outcome = void_key(g.api_key.account_id, key)
    db.session.commit()
    if outcome.state == IN_PROGRESS:
        return error_response(409, "idempotency_in_progress", STILL_RUNNING)
    answer = {"idempotency_key": key, "outcome": "void"}
    if outcome.state == DONE and outcome.answer is not None:
        status, body = outcome.answer
        answer = {"idempotency_key": key, "outcome": "answered", "status": status,
                  **({"payment": body} if status < 300 else {"error": body.get("error")})}
    return jsonify(answer)


def _checked_external_id(external_id: str) -> str:
    if not is_external_id(external_id):
        raise ApiError(422, "validation_error", BAD_EXTERNAL_ID, "external_id")
    return external_id


@bp.put("/invoices/<external_id>")
def put_invoice(external_id: str):
    _checked_external_id(external_id)
    body = validate(INVOICE_BODY, json_body())
    invoice, created = upsert_api_invoice(api_account(), external_id, body)
    db.session.commit()
    return jsonify(invoice_json(invoice)), 201 if created else 200


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise ApiError(400, "missing_idempotency_key", "L'en-tête Idempotency-Key est obligatoire.", "Idempotency-Key")
    if not matches(IDEMPOTENCY_KEY_PATTERN, key):
        raise ApiError(
            400, "invalid_idempotency_key",
            "L'en-tête Idempotency-Key doit comporter 1 à 255 caractères ASCII visibles.", "Idempotency-Key",
        )
    return key


INITIATOR_REQUIRED = (
    "L'en-tête MEG-Initiator est obligatoire : MEG y signe qui demande et son rôle (Libeo ne les prend jamais "
    "dans le corps de la requête)."
)


BAD_INITIATOR_HEADER = (f"L'en-tête MEG-Initiator doit être un jeton signé par MEG ({MIN_INITIATOR_LENGTH} à "
                        f"{MAX_INITIATOR_LENGTH} caractères) : la sélection est refusée, rien n'a été payé.")


def signed_initiator(account: Account, token: str | None, claimed: dict | None, field: str) -> Initiator:
    """Who asks, as MEG signed it (``MEG-Initiator``): the person and role behind a payment or a cancellation.

    A claim in the body (``initiated_by``, ``cancelled_by``) is only compared: one naming another person or
    another role is refused (403 ``initiator_mismatch``), never believed.
    """
    return initiator_of(verified_initiator(account, token), claimed, field)


def verified_initiator(account: Account, token: str | None) -> SignedInitiator:
    """MEG's signed assertion, checked (its signature, its company): a refusal otherwise."""
    if not token:
        raise ApiError(400, "initiator_required", INITIATOR_REQUIRED, INITIATOR_HEADER)
    try:
        return read_initiator_assertion(token, account.siret)
    except SignInFailed as unavailable:
        raise ApiError(503, "meg_unreachable", unavailable.message) from unavailable


def initiator_of(signed: SignedInitiator, claimed: dict | None, field: str) -> Initiator:
    """The initiator MEG signed, once the body's claim (if any) is found to say the same."""
    if claimed is not None:
        email = normalize_email(claimed["email"], field + ".email")
        if email != normalize_email(signed.email, INITIATOR_HEADER) or claimed["role"] != signed.role:
            raise ApiError(
                403, "initiator_mismatch",
                f"« {field} » ({email}, {claimed['role']}) contredit l'en-tête MEG-Initiator signé par MEG "
                f"({signed.email}, {signed.role}) : la demande est refusée.", field,
            )
    return Initiator(signed.email, InitiatorRole(signed.role), Channel.MEG)


@bp.post("/invoices/<external_id>/payments")
def pay(external_id: str):
    key = _idempotency_key()
    body = validate(PAYMENT_BODY, json_body())
    account = api_account()
    # Who asks, before anything is claimed: a refused assertion leaves the key free.
    initiator = signed_initiator(account, request.headers.get(INITIATOR_HEADER), body.get("initiated_by"),
                                 "initiated_by")
    return _payment_response(pay_by_api(account, external_id, key, body, request.path, initiator=initiator))


def _payment_response(answer: ApiAnswer):
    response = jsonify(answer.body)
    response.status_code = answer.status
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/payment-batches")
def pay_batch():
    """Several payment requests in one round trip, each its own: its key, its body, its answer.

    Each item is answered exactly as ``POST /invoices/{external_id}/payments``
    would answer it after the items before it (``pay_batch_by_api``: one
    transaction): a refusal of one never undoes another, and a replay of the
    batch (same keys, same bodies) answers each item as the first time.
    """
    items = _batch_items(json_body())
    account = api_account()
    batch_token = request.headers.get(INITIATOR_HEADER)
    if batch_token is not None and not MIN_INITIATOR_LENGTH <= len(batch_token) <= MAX_INITIATOR_LENGTH:
        # Malformed for every item at once: refused whole, as an unreadable body is.
        raise ApiError(400, "validation_error", BAD_INITIATOR_HEADER, INITIATOR_HEADER)
    prefix = request.path.removesuffix("/payment-batches")
    results: list[dict] = []
    batch: list[tuple[int, BatchRequest]] = []
    verified: dict[str | None, SignedInitiator | ApiError] = {}  # each token checked once (a selection: one person)
    for index, item in enumerate(items):
        said = item if isinstance(item, dict) else {}
        results.append({name: said.get(name) if isinstance(said.get(name), str) else None
                        for name in ("external_id", "idempotency_key")})
        try:
            item = _batch_item(item, index)
            token = item.get("initiator") or batch_token
            if token not in verified:
                try:
                    verified[token] = verified_initiator(account, token)
                except ApiError as error:
                    verified[token] = error
            signed = verified[token]
            if isinstance(signed, ApiError):
                raise signed
            initiator = initiator_of(signed, item["payment"].get("initiated_by"), "initiated_by")
            batch.append((index, BatchRequest(item["external_id"], item["idempotency_key"], item["payment"],
                                                 f"{prefix}/invoices/{item['external_id']}/payments", initiator)))
        except LibeoError as error:
            status, answer = domain_error_body(error)
            results[index].update({"status": status, "replayed": False, **answer})
        except ApiError as error:
            results[index].update({"status": error.status, "replayed": False,
                                   "error": {"code": error.code, "message": error.message, "field": error.field}})
    outcomes = pay_batch_by_api(account, [batch_request for _, batch_request in batch]) if batch else []
    for (index, _), outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, LibeoError):
            status, answer = domain_error_body(outcome)
            results[index].update({"status": status, "replayed": False, **answer})
        else:
            results[index].update({"status": outcome.status, "replayed": outcome.replayed, "payment": outcome.body})
    return jsonify({"items": results})


def _batch_items(body) -> list:
    """The batch's items, or a refusal of the whole batch (nothing done)."""
    if not isinstance(body, dict) or set(body) != {"items"} or not isinstance(body["items"], list):
        raise InvalidData("Le corps doit être un objet JSON avec le seul champ « items » : la liste des paiements.",
                          "items")
    items = body["items"]
    if not items:
        raise InvalidData("La liste « items » est vide : indiquez au moins un paiement.", "items")
    if len(items) > MAX_BATCH_ITEMS:
        raise InvalidData(f"Un lot compte au plus {MAX_BATCH_ITEMS} paiements ({len(items)} reçus) : "
                          "envoyez-les en plusieurs lots.", "items")
    if not all(isinstance(item, dict) for item in items):
        raise InvalidData("Chaque élément de « items » doit être un objet JSON (external_id, idempotency_key, "
                          "payment).", "items")
    return items


def _batch_item(item, index: int) -> dict:
    """One item, checked against its schema; its refusal names the item's field."""
    try:
        return validate(BATCH_ITEM, item)
    except InvalidData as error:
        error.field = f"items[{index}]" + (f".{error.field}" if error.field else "")
        raise


@bp.get("/payments/<int:payment_id>")
def payment(payment_id: int):
    found = account_payment(g.api_key.summary, payment_id)
    if found is None:
        raise NotFound("Ce paiement n'existe pas.")
    return jsonify(payment_json(found))


@bp.post("/payments/<int:payment_id>/cancel")
def cancel_payment(payment_id: int):
    """« Annuler » from MEG: as in Libeo, while scheduled or held; the quota slot is given back."""
    body = validate(CANCEL_BODY, json_body())
    found = account_payment(api_account(), payment_id)
    if found is None:
        raise NotFound("Ce paiement n'existe pas.")
    initiator = signed_initiator(api_account(), request.headers.get(INITIATOR_HEADER), body.get("cancelled_by"),
                                 "cancelled_by")
    cancelled = cancel_on_request(api_account(), found, initiator)
    answer = payment_json(cancelled)
    db.session.commit()
    return jsonify(answer)


@bp.get("/payments/<int:payment_id>/receipt.pdf")
def payment_receipt_pdf(payment_id: int):
    """The « Justificatif de paiement » (payments remitted or paid; 409 otherwise)."""
    found = account_payment(g.api_key.summary, payment_id)
    if found is None:
        raise NotFound("Ce paiement n'existe pas.")
    return pdf_response(payment_receipt(found), receipt_file_name(found))


@bp.put("/invoices/<external_id>/document")
def put_document(external_id: str):
    """The invoice's PDF (≤ 10 MB): created or replaced."""
    _checked_external_id(external_id)
    invoice = invoice_by_external_id(g.api_key.summary, external_id)
    if invoice is None:
        raise NotFound("Cette facture n'existe pas dans Libeo : envoyez-la d'abord (PUT /invoices/{external_id}).")
    if request.mimetype != "application/pdf":
        raise ApiError(415, "unsupported_media_type",
                       "Le document doit être un PDF envoyé tel quel (Content-Type: application/pdf).", "Content-Type")
    document, created = store_invoice_document(invoice, _document_body())
    db.session.commit()
    return jsonify(document_json(invoice, document)), 201 if created else 200


def _document_body() -> bytes:
    """The request's body, up to the document limit (the API's other calls keep the 1 MB one)."""
    request.max_content_length = MAX_DOCUMENT_BYTES
    if request.content_length is not None and request.content_length > MAX_DOCUMENT_BYTES:
        raise ApiError(413, "document_too_large", too_large_message(), "document")
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise ApiError(413, "document_too_large", too_large_message(), "document") from None


def document_json(invoice: Invoice, document) -> dict:
    return {
        "external_id": invoice.external_id,
        "content_type": "application/pdf",
        "size": document.size,
        "sha256": document.sha256,
        "received_at": iso_datetime(document.received_at),
    }


_CURSOR = re.compile(r"[0-9]{1,18}")
_LIMIT = re.compile(r"[0-9]{1,4}")


def _cursor() -> int:
    raw = request.args.get("after")
    if raw is None:
        return 0
    if not _CURSOR.fullmatch(raw):
        raise ApiError(
            400, "invalid_cursor",
            "Le curseur « after » n'est pas valide : reprenez la valeur « next » de la réponse précédente, "
            "ou omettez-le pour lire depuis le premier événement.",
            "after",
        )
    return int(raw)


def _limit() -> int:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(
            400, "invalid_limit", f"Le paramètre « limit » doit être un nombre entier de 1 à {MAX_LIMIT}.", "limit",
        )
    return int(raw)


EVENT_PARAMETERS = ("after", "limit")


def _check_event_parameters() -> None:
    _check_parameters(EVENT_PARAMETERS)


def _check_parameters(known: tuple[str, ...]) -> None:
    """Unknown or repeated query parameters are refused (400), never ignored."""
    for name in request.args:
        if name not in known:
            named = " et ".join(f"« {n} »" for n in known)
            accepted = f"seuls {named} sont acceptés" if len(known) > 1 else f"seul {named} est accepté"
            raise ApiError(400, "unknown_parameter", f"Paramètre inconnu : {accepted}.", name[:100])
        if len(request.args.getlist(name)) > 1:
            raise ApiError(400, "repeated_parameter", f"Le paramètre « {name} » ne doit figurer qu'une fois.", name)


@bp.get("/events")
def events():
    _check_event_parameters()
    after = _cursor()
    page = events_after(g.api_key.summary, after, _limit())
    # The account as it is now (its accountant, plan and quota): MEG learns them with each reading.
    answer = jsonify({"events": [event_json(e) for e in page.events], "next": str(page.next_cursor),
                      "account": account_json(g.api_key.summary, g.api_key.quota)})
    # A retired key that has read everything, with nothing left in flight, has done its work.
    if g.api_key.retired and end_retired_key(g.api_key, caught_up=_read_to_the_end(page, after)):
        db.session.commit()
    return answer


def _read_to_the_end(page: EventPage, after: int) -> bool:
    """Whether the caller has read the account's last event (``read_to_the_end``, the page being what is
    after ``after``): an empty page past it is not."""
    return not page.events and cursor_given(g.api_key.account_id, after)
