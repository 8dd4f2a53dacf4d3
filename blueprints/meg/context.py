"""The company a MEG user is working on, chosen with the company switcher."""

from __future__ import annotations

from flask import abort, g, session
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from core.observability.context import note
from models.meg import Company


def user_companies() -> list[Company]:
    """The companies the user may open, read once per request (the switcher lists them)."""
    if "companies" not in g:
        g.companies = current_user.companies()
    return g.companies


def current_company() -> Company:
    """The company of the session, checked against the user's rights.

    Falls back to the user's first company; a user with no company gets a
    clear refusal instead of someone else's data.
    """
    if "company" in g:
        return g.company
    companies = user_companies()
    if not companies:
        abort(403, description="Votre compte n'est rattaché à aucune entreprise.")
    wanted = session.get("company_id")
    company = next((c for c in companies if c.id == wanted), None)
    if company is None:
        company = companies[0]
        session["company_id"] = company.id
    g.company = company
    note(account_id=company.id)  # the request's log lines name the company worked on
    return company


def company_or_none() -> Company | None:
    """For the layout: error pages render even for a user without a company."""
    try:
        return current_company()
    except HTTPException:
        return None


def inject_company() -> dict:
    if not current_user.is_authenticated:
        return {}
    return {"current_company": company_or_none, "user_companies": user_companies}
