"""The second factor both products ask before what moves money or opens access: a TOTP app, passkeys
(WebAuthn) and single-use recovery codes. Storage is each product's; the checks are written once here.

- TOTP (RFC 6238, 30-second steps, one step of drift either way): the step a code matched is returned so
  that its product refuses it again (a code read over a shoulder cannot be replayed in its window).
- Recovery codes are random 60-bit secrets shown once: a fast hash is enough (as for API keys).
- WebAuthn through the maintained ``webauthn`` package; the relying party is the host the person is on.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from core.dates import utcnow

# A verification counts for this long: an action later than that asks again.
FRESH_FOR = timedelta(minutes=5)
TOTP_STEP_SECONDS = 30
RECOVERY_CODE_COUNT = 10

WRONG_CODE = ("Code incorrect : saisissez les 6 chiffres que votre application d'authentification affiche "
              "maintenant.")
REPLAYED_CODE = ("Ce code a déjà servi : attendez le suivant (il change toutes les 30 secondes) et "
                 "saisissez-le.")
WRONG_RECOVERY_CODE = "Ce code de secours n'est pas valable, ou il a déjà servi : chacun ne sert qu'une fois."
EXPIRED = ("La vérification a expiré (plus de 5 minutes) : rien n'a été fait. Recommencez et confirmez "
           "dans les 5 minutes.")
# Guessing a 6-digit code needs hundreds of thousands of tries: a few dozen per quarter of an hour stop it.
# Both products refuse any answer once this many verifications went unanswered (refused) in the window.
MAX_UNANSWERED = 20
THROTTLE_WINDOW = timedelta(minutes=15)
TOO_MANY = ("Trop d'essais de vérification en peu de temps : rien n'a été fait. Réessayez dans un quart d'heure, "
            "ou utilisez un code de secours plus tard.")
PASSKEY_REFUSED = ("La clé d'accès n'a pas été acceptée : réessayez, ou saisissez un code de votre application "
                   "d'authentification.")


class SecondFactorError(Exception):
    """A second factor refused; ``message`` is French, for the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TooManyTries(SecondFactorError):
    """Refused without looking at the answer: too many refused lately (``MAX_UNANSWERED``)."""

    def __init__(self) -> None:
        super().__init__(TOO_MANY)


# ---- TOTP -------------------------------------------------------------------------------------------

def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, account_name: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def grouped_secret(secret: str) -> str:
    """The secret as a person types it into an app: groups of four."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def totp_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int:
    """The time step ``code`` belongs to (this one or either neighbour); raises if wrong or already used
    (its step is not after ``last_step``, the last one accepted)."""
    code = "".join((code or "").split())
    # The digits 0 to 9 only: « ١٢٣٤٥٦ » or full-width ones are digits to str.isdigit, and compare_digest
    # refuses to compare them (TypeError).
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        raise SecondFactorError(WRONG_CODE)
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // TOTP_STEP_SECONDS)
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            if last_step is not None and step <= last_step:
                raise SecondFactorError(REPLAYED_CODE)
            return step
    raise SecondFactorError(WRONG_CODE)


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(f"second-factor:{secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret: str, secret_key: str) -> str:
    """A TOTP secret as stored: the product must read it back, so it is encrypted, not hashed."""
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def unseal(sealed: str, secret_key: str) -> str:
    try:
        return _fernet(secret_key).decrypt(sealed.encode()).decode()
    except InvalidToken as error:
        raise SecondFactorError("Le secret de l'application d'authentification n'est plus lisible : "
                                "utilisez un code de secours, puis réactivez l'application.") from error


class TotpRow(Protocol):
    """Each product's TOTP factor row: its sealed secret, when it was confirmed, the last step used."""

    secret: str
    created_at: datetime
    confirmed_at: datetime | None
    last_step: int | None


def start_secret(factor: TotpRow, secret_key: str) -> str:
    """A new secret for ``factor``, sealed and unconfirmed until a first code proves the app holds it."""
    secret = new_totp_secret()
    factor.secret, factor.created_at, factor.last_step = seal(secret, secret_key), utcnow(), None
    return secret


def pending_secret(factor: TotpRow | None, secret_key: str) -> str | None:
    """The secret of an app still waiting for its first code (shown again while the person enrols), else None."""
    if factor is None or factor.confirmed_at is not None:
        return None
    try:
        return unseal(factor.secret, secret_key)
    except SecondFactorError:
        return None


# ---- Recovery codes ---------------------------------------------------------------------------------

_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or copied by hand


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def recovery_code_hash(code: str) -> str:
    normalized = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    return hashlib.sha256(f"recovery:{normalized}".encode()).hexdigest()


# ---- Passkeys (WebAuthn) ----------------------------------------------------------------------------

@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the site's host (its RP ID) and origin, and a name a person reads."""

    rp_id: str
    origin: str
    name: str


@dataclass(frozen=True)
class NewPasskey:
    credential_id: str  # base64url
    public_key: bytes
    sign_count: int


def new_webauthn_challenge() -> bytes:
    return secrets.token_bytes(32)


def registration_options(rp: RelyingParty, *, user_handle: bytes, user_name: str, display_name: str,
                         challenge: bytes, existing: list[str]) -> str:
    """The JSON ``navigator.credentials.create`` takes: a discoverable passkey that verifies its user."""
    options = generate_registration_options(
        rp_id=rp.rp_id, rp_name=rp.name, user_id=user_handle, user_name=user_name, user_display_name=display_name,
        challenge=challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in existing],
    )
    return options_to_json(options)


# What a posted credential or assertion that is no browser's answer raises: py_webauthn's own refusals
# (InvalidJSONStructure for text that is not its JSON, Invalid…Response for a check failed), the JSON
# parser's (RecursionError when nested too deep), and the lookups of the fields.
_MALFORMED = (WebAuthnException, ValueError, KeyError, TypeError, RecursionError)


def verify_registration(rp: RelyingParty, credential: str | dict, challenge: bytes) -> NewPasskey:
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp.rp_id,
            expected_origin=rp.origin, require_user_verification=True,
        )
    except _MALFORMED as error:
        raise SecondFactorError("La clé d'accès n'a pas pu être enregistrée : réessayez.") from error
    return NewPasskey(bytes_to_base64url(verified.credential_id), verified.credential_public_key,
                      verified.sign_count)


def authentication_options(rp: RelyingParty, challenge: bytes, credential_ids: list[str]) -> str:
    options = generate_authentication_options(
        rp_id=rp.rp_id, challenge=challenge,
        allow_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in credential_ids],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options)


def assertion_credential_id(assertion: str) -> str:
    """The credential an assertion says it comes from (base64url), before it is checked."""
    try:
        data = json.loads(assertion)
        return str(data["rawId"] if "rawId" in data else data["id"])
    except _MALFORMED as error:
        raise SecondFactorError(PASSKEY_REFUSED) from error


def verify_assertion(rp: RelyingParty, assertion: str, challenge: bytes, public_key: bytes, sign_count: int) -> int:
    """Checks a ``navigator.credentials.get`` answer against its challenge; returns the new sign count."""
    try:
        verified = verify_authentication_response(
            credential=assertion, expected_challenge=challenge, expected_rp_id=rp.rp_id,
            expected_origin=rp.origin, credential_public_key=public_key,
            credential_current_sign_count=sign_count, require_user_verification=True,
        )
    except _MALFORMED as error:
        raise SecondFactorError(PASSKEY_REFUSED) from error
    return verified.new_sign_count


def b64url(data: bytes) -> str:
    return bytes_to_base64url(data)


def from_b64url(text: str) -> bytes:
    return base64url_to_bytes(text)
