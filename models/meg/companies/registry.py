"""The company registry: is this SIRET a live establishment of a company with this name?

MEG vouches to Libeo that an « Achats » administrator speaks for a SIRET only
when MEG trusts that SIRET (:mod:`models.meg.companies.siret_trust`). One
way to trust it is the registry: INSEE's SIRENE says the establishment
exists, is active (« A », not « F » for fermé), and its legal name reads as
the company's (``core.names``: accents, case, legal forms and look-alike
letters aside).

Where it is asked:

- ``SIRENE_API_URL`` set: an API shaped like INSEE's (« GET
  {url}/siret/{siret} » answering ``etablissement`` with its
  ``uniteLegale.denominationUniteLegale`` and its latest period's
  ``etatAdministratifEtablissement``; 404 for an unknown SIRET), with
  ``SIRENE_API_TOKEN`` as a bearer token if set;
- else the local extract shipped beside this module (the demo companies),
  which ``make run`` and the tests use.

A registry that does not answer is said as such: nothing is trusted, and the
person is told to try again or ask the company's expert-comptable.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import requests
from flask import current_app

EXTRACT = Path(__file__).parent / "data" / "sirene_extract.csv"


class RegistryUnavailable(Exception):
    """The registry could not be asked; the message is French."""


@dataclass(frozen=True)
class Establishment:
    siret: str
    legal_name: str
    active: bool


def find_establishment(siret: str) -> Establishment | None:
    """The registry's establishment for ``siret``, or None when it has none.

    Raises :class:`RegistryUnavailable` when the configured API cannot answer.
    """
    url = current_app.config.get("SIRENE_API_URL")
    if not url:
        return _extract().get(siret)
    return _ask_api(url.rstrip("/"), siret)


@cache
def _extract() -> dict[str, Establishment]:
    with EXTRACT.open(encoding="utf-8", newline="") as file:
        return {row["siret"]: Establishment(row["siret"], row["denomination"], row["etat"] == "A")
                for row in csv.DictReader(file, delimiter=";")}


def _ask_api(url: str, siret: str) -> Establishment | None:
    headers = {"Accept": "application/json"}
    token = current_app.config.get("SIRENE_API_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with requests.Session() as session:
            session.trust_env = False
            response = session.get(f"{url}/siret/{siret}", headers=headers,
                                   timeout=current_app.config["HTTP_TIMEOUT"], allow_redirects=False)
    except requests.RequestException as exc:
        raise RegistryUnavailable("Le répertoire SIRENE de l'INSEE ne répond pas : réessayez plus tard.") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise RegistryUnavailable(
            f"Le répertoire SIRENE de l'INSEE a répondu par une erreur ({response.status_code}) : réessayez plus tard.")
    try:
        found = response.json()["etablissement"]
        legal_name = found["uniteLegale"]["denominationUniteLegale"] or ""
        periods = found.get("periodesEtablissement") or [{}]
        active = periods[0].get("etatAdministratifEtablissement") == "A"
        return Establishment(str(found["siret"]), str(legal_name), active)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise RegistryUnavailable("Le répertoire SIRENE de l'INSEE a répondu de façon illisible : réessayez plus "
                                  "tard.") from exc
