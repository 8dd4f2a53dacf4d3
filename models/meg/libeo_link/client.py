"""The one module through which MEG talks to Libeo's REST API v1 (described by its OpenAPI document,
``/api/v1/openapi.json``).

HTTP with timeouts; retries of network failures and of Libeo's « still
running » answers with the same Idempotency-Key; typed results; every refusal
turned into a :class:`LibeoApiError` whose message a person can read (French).

What MEG may conclude from a failure matters for money, so failures say it:
- :class:`LibeoUnreachable`: no request reached Libeo (connection refused or
  not made): nothing was done there;
- :class:`LibeoUnheard`: a request may have reached Libeo but no answer came
  back (timeout, reset, 5xx): Libeo may have acted; only a later answer to
  the same request (same Idempotency-Key) tells;
- any other :class:`LibeoApiError`: Libeo answered and refused; only a
  refusal Libeo decided on the request itself (``decided``: a 4xx with its
  error code) tells that nothing was done. A refused key (401), a refusal of
  the key's rights (403 without a business code), a timeout (408) or « too
  many requests » (429) say nothing of what an earlier sending did.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import requests
from flask import current_app

from core.http import kept_http_session

UNREACHABLE = (
    "Libeo est injoignable pour le moment : la demande n'a pas pu lui être envoyée. "
    "Réessayez dans quelques instants."
)
UNHEARD = "Libeo n'a pas répondu à temps."
RETRYABLE_STATUS = {502, 503, 504}
BATCH_SECONDS_PER_ITEM = 0.1
# The room MEG keeps for what Libeo waits for (``libeo_connection.account_waiting_for``).
WAITING_FOR_LENGTH = 300
PDF = "application/pdf"
# Answers that refuse the call, not the request: Libeo did not look at what was asked.
UNDECIDED_STATUS = {401, 403, 408, 429}
# The 403s that are Libeo's decision on the request (who asks may not pay this account's invoices).
DECIDED_FORBIDDEN = {"initiator_not_allowed", "plan_limit"}


class LibeoApiError(Exception):
    """Libeo refused or could not answer; ``message`` is for the user."""

    def __init__(self, message: str, *, code: str = "error", status: int | None = None,
                 field: str | None = None, upgrade_url: str | None = None, payment_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.field = field
        self.upgrade_url = upgrade_url
        self.payment_id = payment_id
        # An earlier try of the same call may have reached Libeo (timeout, reset, 5xx) before this answer.
        self.maybe_done = False

    @property
    def decided(self) -> bool:
        """Libeo looked at the request and refused it (a 4xx with its error code): nothing was done."""
        if self.status is None or not 400 <= self.status < 500 or self.code in ("error", "idempotency_in_progress"):
            return False
        if self.status == 403:
            return self.code in DECIDED_FORBIDDEN
        return self.status not in UNDECIDED_STATUS


class LibeoUnreachable(LibeoApiError):
    """No request reached Libeo: nothing was done there."""


class LibeoUnheard(LibeoApiError):
    """A request may have reached Libeo, and no answer came back: its outcome is unknown."""


class LibeoKeyRefused(LibeoApiError):
    """401: the key is wrong, malformed or revoked."""


@dataclass(frozen=True)
class LibeoAccount:
    name: str
    siret: str
    plan: str
    payments_this_month: int
    payment_limit: int | None
    accountant_email: str | None
    # None when Libeo does not say (an older Libeo).
    verified: bool | None = None
    plan_label: str | None = None
    # Libeo's id of the account: a key of another account reads another events feed.
    id: str | None = None
    # What keeps Libeo from executing the account's transfers, in Libeo's words; None when nothing does.
    waiting_for: str | None = None
    # The account's approval rules: above this amount, and the expert-comptable's payments, held (None: not said).
    approval_above_cents: int | None = None
    accountant_payments_approved: bool | None = None

    @classmethod
    def from_json(cls, data: dict) -> LibeoAccount:
        return cls(
            name=data["name"],
            siret=data["siret"],
            plan=data["plan"],
            payments_this_month=int(data.get("payments_this_month", 0)),
            payment_limit=data.get("payment_limit"),
            accountant_email=data.get("accountant_email"),
            verified=data["verified"] if isinstance(data.get("verified"), bool) else None,
            plan_label=str(data.get("plan_label") or data["plan"])[:40],
            id=str(data["id"]) if isinstance(data.get("id"), (int, str)) else None,
            waiting_for=_within(str(data["waiting_for"]), WAITING_FOR_LENGTH)
            if isinstance(data.get("waiting_for"), str) else None,
            approval_above_cents=_cents(data.get("approval_above_cents")),
            accountant_payments_approved=data["accountant_payments_approved"]
            if isinstance(data.get("accountant_payments_approved"), bool) else None,
        )


@dataclass(frozen=True)
class LibeoPaymentInfo:
    """A payment as Libeo's API describes it (docs/architecture.md §4)."""

    id: str
    status: str
    amount_cents: int
    currency: str
    execution_date: date | None
    paid_at: datetime | None
    failure_reason: str | None
    cancel_reason: str | None
    hold_reasons: tuple[str, ...]
    invoice_external_id: str
    # Libeo's French sentences naming the other invoice or the previous IBAN (masked).
    hold_details: tuple[str, ...] = ()
    # The bank leg, with the bank's dates (None from a Libeo that does not say).
    transmitted_at: datetime | None = None
    accepted_at: datetime | None = None
    bank_status: str | None = None
    paid_on: date | None = None
    failure_code: str | None = None
    # The bank's own words of a rejection (AddtlInf).
    bank_text: str | None = None
    new_iban_required: bool = False
    # What a bank file said that Libeo did not apply, until a person of the Libeo account decides.
    bank_anomaly: str | None = None
    # Who approved or refused the held payment in Libeo, and when.
    decided_by: str | None = None
    decided_at: datetime | None = None
    # Libeo's own words for the state: what MEG shows of a state it does not know yet.
    status_label: str | None = None
    # The IBAN the transfer pays, as Libeo holds it (None from a Libeo that does not say).
    payee_iban: str | None = None
    # 1 at creation, one more at each change (None from a Libeo that does not say): the newest account wins.
    version: int | None = None
    # Libeo answered a request it had answered before with its first answer (``Idempotent-Replayed``): the
    # payment as it was then, not as it is now (cancelled since, perhaps).
    replayed: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LibeoPaymentInfo:
        execution, paid_at = data.get("execution_date"), data.get("paid_at")
        return cls(
            id=str(data["id"]),
            status=str(data["status"]),
            amount_cents=int(data["amount_cents"]),
            currency=data.get("currency") or "EUR",
            execution_date=date.fromisoformat(execution) if execution else None,
            paid_at=datetime.fromisoformat(paid_at) if paid_at else None,
            failure_reason=_text(data.get("failure_reason")),
            cancel_reason=_text(data.get("cancel_reason")),
            hold_reasons=tuple(str(reason) for reason in data.get("hold_reasons") or ()),
            invoice_external_id=str(data.get("invoice_external_id") or ""),
            hold_details=tuple(
                detail[:500] for detail in data.get("hold_details") or () if isinstance(detail, str)
            )[:10],
            transmitted_at=_moment(data.get("transmitted_at")),
            accepted_at=_moment(data.get("accepted_at")),
            bank_status=_text(data.get("bank_status"), 4),
            paid_on=_day(data.get("paid_on")),
            failure_code=_text(data.get("failure_code"), 35),
            bank_text=_text(data.get("bank_text"), 500),
            new_iban_required=data.get("new_iban_required") is True,
            bank_anomaly=_text(data.get("bank_anomaly"), 1000),
            decided_by=_text(data.get("decided_by"), 254),
            decided_at=_moment(data.get("decided_at")),
            status_label=_text(data.get("status_label")),
            payee_iban=_text((data.get("payee") or {}).get("iban") if isinstance(data.get("payee"), dict) else None,
                             34),
            version=_version(data.get("version")),
        )


@dataclass(frozen=True)
class LibeoEvent:
    id: str
    type: str
    payment: LibeoPaymentInfo | None


def _cents(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**14 else None


def _text(value, length: int = 300) -> str | None:
    return value[:length] if isinstance(value, str) and value else None


def _version(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**62 else None


def _moment(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def _day(value) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


# MEG's signed word on who asks for a payment or its cancellation (Libeo's API document).
INITIATOR_HEADER = "MEG-Initiator"


class LibeoClient:
    def __init__(self, api_key: str, *, base_url: str | None = None, session: requests.Session | None = None,
                 timeout: float | None = None, attempts: int = 3) -> None:
        config = current_app.config
        self.api_url = (base_url or config["LIBEO_URL"]).rstrip("/") + "/api/v1"
        self.session = session or kept_http_session(current_app)
        self.timeout = timeout or config["HTTP_TIMEOUT"]
        self.attempts = attempts
        self._api_key = api_key

    def me(self) -> LibeoAccount:
        return LibeoAccount.from_json(self._call("GET", "/me"))

    def vouch(self, assertion: str) -> LibeoAccount:
        """Hands Libeo MEG's signed word for the key's account (« POST /account/meg-vouch »)."""
        return LibeoAccount.from_json(self._call("POST", "/account/meg-vouch", json={"assertion": assertion}))

    def put_invoice(self, external_id: str, invoice: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/invoices/{external_id}", json=invoice)

    def create_payment(self, external_id: str, idempotency_key: str, body: dict[str, Any],
                       initiator: str) -> LibeoPaymentInfo:
        """Pays the invoice; ``body`` (``initiated_by``, ``execution_date``, ``invoice``) is sent as is, with MEG's
        signed word on who asks (``initiator``, ``signing.initiator_assertion``)."""
        said: dict[str, str] = {}
        data = self._call("POST", f"/invoices/{external_id}/payments", json=body,
                          headers={"Idempotency-Key": idempotency_key, INITIATOR_HEADER: initiator},
                          answer_headers=said)
        info = LibeoPaymentInfo.from_json(data)
        return replace(info, replayed=True) if said.get("Idempotent-Replayed") == "true" else info

    def create_payments(self, items: list[tuple[str, str, dict[str, Any], str]]
                        ) -> list[LibeoPaymentInfo | LibeoApiError]:
        """Pays several invoices in one round trip (``POST /payment-batches``); ``items`` are
        (external id, Idempotency-Key, body, initiator assertion), each body sent as is.

        One outcome per item, in order: the payment, or Libeo's refusal of that item
        (a :class:`LibeoUnheard` for an item whose key another request is still running).
        The whole call raises as ``create_payment`` does; retrying it resends the same keys
        and bodies, so Libeo answers each item as the first time.
        """
        body = {"items": [{"external_id": external_id, "idempotency_key": key, "payment": payment,
                           "initiator": initiator}
                          for external_id, key, payment, initiator in items]}
        # Libeo runs the items one after the other: give it the time they take.
        timeout = self.timeout + BATCH_SECONDS_PER_ITEM * len(items)
        data = self._call("POST", "/payment-batches", json=body, timeout=timeout)
        answers = data.get("items") if isinstance(data.get("items"), list) else []
        if len(answers) != len(items):
            raise LibeoUnheard(UNHEARD, code="unheard")
        return [_item_outcome(answer) for answer in answers]

    def void_request(self, idempotency_key: str) -> LibeoPaymentInfo | LibeoApiError | None:
        """Gives up a payment request MEG never heard answered (``POST /payment-requests/void``): None when
        Libeo never received it (closed now: nothing will ever be made with that key), else Libeo's answer
        to it (the payment, or its refusal). Raises as any call does; :class:`LibeoUnheard` while the request
        still runs in Libeo."""
        data = self._call("POST", "/payment-requests/void", json={"idempotency_key": idempotency_key})
        if data.get("outcome") == "void":
            return None
        if data.get("outcome") != "answered":
            raise LibeoUnheard(UNHEARD, code="unheard")
        return _item_outcome(data)

    def put_document(self, external_id: str, pdf: bytes) -> dict[str, Any]:
        """The invoice's file, as a PDF (``PUT /invoices/{id}/document``)."""
        return self._call("PUT", f"/invoices/{external_id}/document", data=pdf, content_type=PDF)

    def receipt_pdf(self, payment_id: str) -> bytes:
        """The payment's « Ordre de virement » (in a SEPA file), or « Justificatif de paiement » (debited)."""
        return self._call("GET", f"/payments/{payment_id}/receipt.pdf", accept=PDF)

    def get_payment(self, payment_id: str) -> LibeoPaymentInfo:
        return LibeoPaymentInfo.from_json(self._call("GET", f"/payments/{payment_id}"))

    def events(self, after: str | None,
               limit: int = 100) -> tuple[list[LibeoEvent], str | None, LibeoAccount | None]:
        """The account's events after ``after`` (oldest first), the cursor to ask from next time, and the
        account as it is now (accountant, plan and quota; None from a Libeo that does not say it)."""
        query = f"?limit={limit}" + (f"&after={requests.utils.quote(after)}" if after else "")
        data = self._call("GET", "/events" + query)
        events = [
            LibeoEvent(str(item["id"]), str(item.get("type", "")),
                       LibeoPaymentInfo.from_json(item["data"]) if isinstance(item.get("data"), dict) else None)
            for item in data.get("events") or []
        ]
        account = LibeoAccount.from_json(data["account"]) if isinstance(data.get("account"), dict) else None
        return events, (str(data["next"]) if data.get("next") is not None else after), account

    def cancel_payment(self, payment_id: str, email: str, role: str, initiator: str) -> LibeoPaymentInfo:
        """« Annuler »: cancels a scheduled or held payment; a payment already cancelled is answered as is."""
        data = self._call("POST", f"/payments/{payment_id}/cancel",
                          json={"cancelled_by": {"email": email, "role": role}},
                          headers={INITIATOR_HEADER: initiator})
        return LibeoPaymentInfo.from_json(data)

    def delete_key(self, cursor: str | None = None) -> bool:
        """Gives the key of this client up (« Supprimer la connexion »), saying where MEG's reading of the
        feed stands. False: Libeo revoked it; True: retired, it reads the account's payments and events until
        the last payment MEG asked for has ended and been read, then Libeo revokes it."""
        query = f"?after={requests.utils.quote(cursor)}" if cursor else "?after=0"
        return self._call("DELETE", "/key" + query).get("status") == "retired"

    def _call(self, method: str, path: str, *, json: dict | None = None, headers: dict | None = None,
              data: bytes | None = None, content_type: str | None = None, accept: str = "application/json",
              timeout: float | None = None, answer_headers: dict[str, str] | None = None):
        """The answer's JSON object, or its bytes when ``accept`` is not JSON; ``answer_headers`` receives the
        headers of the answer given."""
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": accept, **(headers or {})}
        if content_type:
            headers["Content-Type"] = content_type
        maybe_sent = False
        last_error: LibeoApiError | None = None
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(0.2 * 2 ** (attempt - 1))
            try:
                response = self.session.request(method, self.api_url + path, json=json, data=data, headers=headers,
                                                timeout=timeout or self.timeout, allow_redirects=False)
            except (requests.ConnectionError, requests.Timeout) as exc:
                maybe_sent = maybe_sent or _may_have_been_sent(exc)
                continue
            except requests.RequestException:
                maybe_sent = True
                continue
            if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
                maybe_sent = True
                continue
            if response.status_code == 204:
                return {}
            if (response.ok and accept != "application/json"
                    and response.headers.get("Content-Type", "").startswith(accept)):
                return response.content
            body = _json(response)
            if response.ok and body is not None and accept == "application/json":
                if answer_headers is not None:
                    answer_headers.update(response.headers)
                return body
            last_error = _refusal(response, body)
            # Libeo still runs the first request with this key: ask again.
            if last_error.code != "idempotency_in_progress":
                last_error.maybe_done = maybe_sent
                raise last_error
            maybe_sent = True
        if maybe_sent or last_error is not None:
            raise LibeoUnheard(UNHEARD, code="unheard")
        raise LibeoUnreachable(UNREACHABLE, code="unreachable")


def _may_have_been_sent(exc: requests.RequestException) -> bool:
    """Only a connection that was never made (refused, no route, connect timeout) sent nothing."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    from urllib3.exceptions import NewConnectionError

    return not isinstance(reason, NewConnectionError)


def _json(response: requests.Response) -> dict | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _item_outcome(answer) -> LibeoPaymentInfo | LibeoApiError:
    """One item of a batch's answer: its payment, or its refusal as ``_refusal`` reads a whole answer."""
    if not isinstance(answer, dict):
        return LibeoUnheard(UNHEARD, code="unheard")
    if isinstance(answer.get("payment"), dict):
        try:
            return replace(LibeoPaymentInfo.from_json(answer["payment"]), replayed=answer.get("replayed") is True)
        except (KeyError, TypeError, ValueError):
            return LibeoUnheard(UNHEARD, code="unheard")
    said_status = answer.get("status")
    status = said_status if isinstance(said_status, int) else 500
    refusal = _refusal_of(status, answer if isinstance(answer.get("error"), dict) else None)
    if refusal.code == "idempotency_in_progress" or status >= 500:
        return LibeoUnheard(UNHEARD, code="unheard", status=status)
    return refusal


def _refusal(response: requests.Response, body: dict | None) -> LibeoApiError:
    return _refusal_of(response.status_code, body)


def _refusal_of(status: int, body: dict | None) -> LibeoApiError:
    error = (body or {}).get("error") or {}
    if not isinstance(error, dict):
        error = {}
    said_message, said_code = error.get("message"), error.get("code")
    message = said_message if isinstance(said_message, str) else None
    code = said_code if isinstance(said_code, str) else "error"
    if status == 401:
        return LibeoKeyRefused(
            "Libeo refuse la clé d'API : elle est erronée ou a été révoquée. "
            "Un administrateur du module « Achats » doit en coller une nouvelle dans « Options » "
            "(un administrateur du compte Libeo la crée dans Libeo : « Configuration » → « Intégrations »).",
            code="unauthorized", status=status,
        )
    if status == 402 or code == "quota_exceeded":
        return LibeoApiError(
            message or "Vous avez atteint la limite de paiements de votre formule Libeo ce mois-ci.",
            code="quota_exceeded", status=status, upgrade_url=error.get("upgrade_url"),
        )
    if body is None:
        return LibeoUnheard(UNHEARD, code="unheard", status=status)
    payment_id = error.get("payment_id")
    return LibeoApiError(message or "Libeo a refusé la demande.", code=code, status=status, field=error.get("field"),
                         payment_id=str(payment_id) if payment_id is not None else None)


def _within(sentence: str, length: int) -> str:
    """Libeo's sentence, or as much of it as fits in ``length`` characters ending on a whole word and « … »: a
    longer one from a newer Libeo never shows a word cut in half."""
    if len(sentence) <= length:
        return sentence
    return sentence[:length - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
