"""The second factor a sensitive view asks before it acts (« step-up »).

A view calls ``second_factor_first(operation)`` once its form is valid and before its use case: None means
go on; otherwise it returns the page to answer with — the verification page, which shows what is being
confirmed and posts the same form back with the answer, or the refusal of a person whose account requires
a factor they have not enrolled. A verification counts five minutes in this browser, except an approval,
which is always confirmed for its own payments (their amounts and payee IBANs).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from core.second_factor import RelyingParty, authentication_options
from core.security import safe_next_url
from models.libeo import db
from models.libeo.strong_auth.services import (
    MUST_ENROL,
    Answer,
    Operation,
    Purpose,
    StrongAuthRefused,
    answer_challenge,
    aware,
    find_challenge,
    has_totp,
    is_asked,
    is_enrolled,
    is_fresh,
    open_challenge,
    passkeys_of,
)

SESSION_KEY = "strong_auth_challenge"
FIELDS = ("sca_challenge", "sca_code", "sca_recovery_code", "sca_assertion", "csrf_token")


def relying_party() -> RelyingParty:
    """Passkeys belong to the host the person is on (what the browser checks, and signs)."""
    return RelyingParty(rp_id=urlsplit(request.host_url).hostname or "localhost",
                        origin=f"{request.scheme}://{request.host}", name="Libeo")


def verified_recently() -> bool:
    """Whether this browser's last verification (its challenge, kept in the database) is under 5 minutes old."""
    challenge = find_challenge(current_user, session.get(SESSION_KEY))
    return challenge is not None and is_fresh(challenge.used_at and aware(challenge.used_at))


def second_factor_first(operation: Operation):
    """None when the view may act; else the response to return (nothing has been done)."""
    user = current_user
    if not is_asked(user):
        return None
    if not is_enrolled(user):
        flash(MUST_ENROL, "error")
        return redirect(url_for("security.overview"))
    if operation.purpose is not Purpose.APPROVE and verified_recently():
        return None
    token = request.form.get("sca_challenge")
    if token is None:
        return verification_page(operation)
    answer = Answer(code=request.form.get("sca_code", ""), recovery_code=request.form.get("sca_recovery_code", ""),
                    assertion=request.form.get("sca_assertion", ""))
    try:
        answer_challenge(user, token, operation, answer, rp=relying_party(),
                         secret_key=current_app.config["SECRET_KEY"])
    except StrongAuthRefused as error:
        db.session.rollback()
        return verification_page(operation, error.message)
    # The verification is spent whatever the operation then says: its code cannot serve twice.
    db.session.commit()
    session[SESSION_KEY] = token
    return None


def _this_address() -> str:
    """The address the form was posted to (under the product's prefix), where the answer goes."""
    query = request.query_string.decode("latin-1")
    return request.script_root + request.path + (f"?{query}" if query else "")


def _page_before() -> str | None:
    """« Annuler » goes back to the page the form was on (this site's only)."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host or referrer.path == _this_address().split("?")[0]:
        return None  # another site, or this verification page itself (answered wrong once)
    return safe_next_url(referrer.path + (f"?{referrer.query}" if referrer.query else ""), "") or None


def verification_page(operation: Operation, error: str | None = None):
    user = current_user
    challenge = open_challenge(user, operation)
    db.session.commit()
    passkeys = passkeys_of(user)
    options = (authentication_options(relying_party(), challenge.webauthn_challenge,
                                      [p.credential_id for p in passkeys]) if passkeys else None)
    carried = [(name, value) for name, value in request.form.items(multi=True) if name not in FIELDS]
    back = safe_next_url(request.form.get("next"), _page_before() or url_for("main.home"))
    page = render_template(
        "libeo/security/verify.html", operation=operation, error=error, challenge=challenge.token,
        carried=carried, action=_this_address(), passkey_options=options, has_totp=has_totp(user),
        cancel_url=back,
    )
    return page, (422 if error else 200)
