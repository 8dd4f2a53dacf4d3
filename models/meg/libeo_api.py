"""The one module through which MEG talks to Libeo's REST API v1.

HTTP with timeouts; retries of network failures and of Libeo's « still
running » answers with the same Idempotency-Key; typed results; every refusal
turned into a :class:`LibeoError` whose message a person can read (French).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests
from flask import current_app

from core.http import http_session

UNREACHABLE = (
    "Libeo est momentanément injoignable : rien n'a été payé. Réessayez dans quelques instants."
)
RETRYABLE_STATUS = {502, 503, 504}


class LibeoError(Exception):
    """Libeo refused or could not answer; ``message`` is for the user."""

    def __init__(self, message: str, *, code: str = "error", status: int | None = None,
                 field: str | None = None, upgrade_url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.field = field
        self.upgrade_url = upgrade_url


class LibeoUnreachable(LibeoError):
    """No answer (network, timeout, 5xx): nothing may be assumed done."""


class LibeoKeyRefused(LibeoError):
    """401: the key is wrong, malformed or revoked."""


@dataclass(frozen=True)
class LibeoAccount:
    name: str
    siret: str
    plan: str
    payments_this_month: int
    payment_limit: int | None
    accountant_email: str | None


@dataclass(frozen=True)
class LibeoPaymentInfo:
    id: str
    status: str
    amount_cents: int
    currency: str
    execution_date: date | None
    invoice_external_id: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LibeoPaymentInfo":
        execution = data.get("execution_date")
        return cls(
            id=str(data["id"]),
            status=data["status"],
            amount_cents=int(data["amount_cents"]),
            currency=data.get("currency", "EUR"),
            execution_date=date.fromisoformat(execution) if execution else None,
            invoice_external_id=data.get("invoice_external_id", ""),
        )


class LibeoClient:
    def __init__(self, api_key: str, *, base_url: str | None = None, session: requests.Session | None = None,
                 timeout: float | None = None, attempts: int = 3) -> None:
        config = current_app.config
        self.api_url = (base_url or config["LIBEO_URL"]).rstrip("/") + "/api/v1"
        self.session = session or http_session(current_app)
        self.timeout = timeout or config["HTTP_TIMEOUT"]
        self.attempts = attempts
        self._api_key = api_key

    def me(self) -> LibeoAccount:
        data = self._call("GET", "/me")
        return LibeoAccount(
            name=data["name"],
            siret=data["siret"],
            plan=data["plan"],
            payments_this_month=int(data.get("payments_this_month", 0)),
            payment_limit=data.get("payment_limit"),
            accountant_email=data.get("accountant_email"),
        )

    def put_invoice(self, external_id: str, invoice: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/invoices/{external_id}", json=invoice)

    def create_payment(self, external_id: str, idempotency_key: str, initiated_by: dict[str, str]) -> LibeoPaymentInfo:
        data = self._call(
            "POST",
            f"/invoices/{external_id}/payments",
            json={"initiated_by": initiated_by},
            headers={"Idempotency-Key": idempotency_key},
        )
        return LibeoPaymentInfo.from_json(data)

    def get_payment(self, payment_id: str) -> LibeoPaymentInfo:
        return LibeoPaymentInfo.from_json(self._call("GET", f"/payments/{payment_id}"))

    def _call(self, method: str, path: str, *, json: dict | None = None, headers: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json", **(headers or {})}
        last_error: LibeoError = LibeoUnreachable(UNREACHABLE, code="unreachable")
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(0.2 * 2 ** (attempt - 1))
            try:
                response = self.session.request(method, self.api_url + path, json=json, headers=headers,
                                                timeout=self.timeout, allow_redirects=False)
            except requests.RequestException:
                continue
            if response.status_code in RETRYABLE_STATUS:
                continue
            body = _json(response)
            if response.ok and body is not None:
                return body
            last_error = _refusal(response, body)
            # Libeo still runs the first request with this key: ask again.
            if not (response.status_code == 409 and last_error.code == "idempotency_in_progress"):
                raise last_error
        raise last_error


def _json(response: requests.Response) -> dict | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _refusal(response: requests.Response, body: dict | None) -> LibeoError:
    error = (body or {}).get("error") or {}
    message = error.get("message") if isinstance(error.get("message"), str) else None
    code = error.get("code") if isinstance(error.get("code"), str) else "error"
    status = response.status_code
    if status == 401:
        return LibeoKeyRefused(
            "Libeo refuse la clé d'API : elle est erronée ou a été révoquée. "
            "Générez-en une nouvelle dans Libeo (« Configuration » → « Intégrations »).",
            code="unauthorized", status=status,
        )
    if status == 402 or code == "quota_exceeded":
        return LibeoError(
            message or "Vous avez atteint la limite de paiements de votre formule Libeo ce mois-ci.",
            code="quota_exceeded", status=status, upgrade_url=error.get("upgrade_url"),
        )
    if body is None or status >= 500:
        return LibeoUnreachable(UNREACHABLE, code="unreachable", status=status)
    return LibeoError(message or "Libeo a refusé la demande.", code=code, status=status, field=error.get("field"))
