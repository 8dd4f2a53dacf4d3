"""MEG's signing key (its OpenID Connect ID tokens) and the statements MEG signs with it.

Libeo checks anything MEG signs with MEG's published JWKS (« /oauth/jwks »).
Besides ID tokens, MEG signs two statements, short-lived (five minutes), for
Libeo only:

- the vouching assertion, sent when an « Achats » administrator saves a Libeo
  key in « Options » (the article's first path), that says « this person
  administers Achats of the company with this SIRET, and MEG trusts that
  SIRET »: as strong as « Me connecter avec MEG »;
- the initiator assertion, sent with each payment request and cancellation
  (header ``MEG-Initiator``), that says who asks and in which role (« user »
  for the company's own people, « accountant » for its expert-comptable), as
  MEG knows them: Libeo takes the role from it, never from the request body.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from flask import current_app, has_request_context, request
from joserfc import jwt
from joserfc.jwk import RSAKey

from core.urls import public_base
from models.meg.companies.models import Company, User

ID_TOKEN_ALG = "RS256"
# Who the vouching assertion is for, and what it says (Libeo refuses any other).
VOUCH_AUDIENCE = "libeo"
VOUCH_PURPOSE = "libeo_key_saved"
VOUCH_LIFETIME_SECONDS = 5 * 60
INITIATOR_PURPOSE = "payment_initiator"


def issuer() -> str:
    """MEG's issuer, as its OpenID Connect metadata says it (its public URL and mount point)."""
    if not has_request_context():  # the sync pass replaying a payment request: its mount point as configured
        return public_base(current_app)
    root = request.script_root
    return current_app.config["PUBLIC_URL"].rstrip("/") + (root if root != "/" else "")


def signing_key() -> RSAKey:
    """The RS256 key, generated on first use and kept in ``OAUTH_KEYS_DIR``."""
    key = current_app.extensions.get("meg_oauth_key")
    if key is None:
        key = load_or_create_key(Path(current_app.config["OAUTH_KEYS_DIR"]))
        current_app.extensions["meg_oauth_key"] = key
    return key


def load_or_create_key(directory: Path) -> RSAKey:
    path = directory / "id_token_rs256.json"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": ID_TOKEN_ALG}, auto_kid=True)
        # Written aside then linked: of processes starting together, one key
        # wins and nobody reads a half-written file.
        draft = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"  # threads of one process too
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(key.as_dict(private=True), file)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return RSAKey.import_key(json.loads(path.read_text()))


def public_jwks() -> dict:
    return {"keys": [signing_key().as_dict(private=False)]}


def vouching_assertion(user: User, company: Company) -> str | None:
    """MEG's signed word that ``user`` administers « Achats » of ``company`` and that MEG trusts its SIRET;
    None when MEG cannot say it (not an administrator, no SIRET, or a SIRET MEG has not confirmed)."""
    if not (company.siret_trusted and user.is_achats_admin(company)):
        return None
    now = int(time.time())
    key = signing_key()
    claims = {
        "iss": issuer(), "aud": VOUCH_AUDIENCE, "iat": now, "exp": now + VOUCH_LIFETIME_SECONDS,
        "jti": secrets.token_urlsafe(16), "purpose": VOUCH_PURPOSE,
        "sub": str(user.id), "email": user.email, "name": user.full_name,
        "company_id": company.id, "company_name": company.name, "company_siret": company.siret,
        "company_achats_admin": True, "company_siret_trusted": True,
    }
    return jwt.encode({"alg": ID_TOKEN_ALG, "kid": key.kid}, claims, key)


# One assertion serves the same person for this long (it is valid VOUCH_LIFETIME_SECONDS): each « Payer » no
# longer costs an RSA signature here and a verification in Libeo (which keeps those it checked).
INITIATOR_REUSE_SECONDS = 60
_SIGNED_INITIATORS: dict[tuple, tuple[str, int]] = {}
_MAX_KEPT_INITIATORS = 1024


def initiator_assertion(company: Company, email: str, role: str, subject: int | None = None) -> str:
    """MEG's signed word that ``email`` (MEG's user ``subject``), in ``role`` (« user » or « accountant »), asks
    Libeo to pay or cancel for ``company``: what MEG recorded when the person clicked, signed when it is sent.

    The same person's assertion for the same company is reused for ``INITIATOR_REUSE_SECONDS`` (so it
    has four minutes left at least when Libeo reads it); a replay later gets a fresh one."""
    now = int(time.time())
    key = signing_key()
    kept_as = (issuer(), key.kid, company.id, company.siret, email, role, subject)
    kept = _SIGNED_INITIATORS.get(kept_as)
    if kept is not None and now - kept[1] < INITIATOR_REUSE_SECONDS:
        return kept[0]
    claims = {
        "iss": issuer(), "aud": VOUCH_AUDIENCE, "iat": now, "exp": now + VOUCH_LIFETIME_SECONDS,
        "jti": secrets.token_urlsafe(16), "purpose": INITIATOR_PURPOSE,
        "sub": str(subject) if subject is not None else email, "email": email, "role": role,
        "company_id": company.id, "company_siret": company.siret,
    }
    signed = jwt.encode({"alg": ID_TOKEN_ALG, "kid": key.kid}, claims, key)
    if len(_SIGNED_INITIATORS) >= _MAX_KEPT_INITIATORS:
        _SIGNED_INITIATORS.clear()
    _SIGNED_INITIATORS[kept_as] = (signed, now)
    return signed
