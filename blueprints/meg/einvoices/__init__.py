"""« Importer une facture électronique », the file of an invoice, and its « Justificatif de paiement » (SPEC §13)."""

from flask import Blueprint

bp = Blueprint("einvoices", __name__)

from . import routes  # noqa: E402,F401
