"""« Importer une facture électronique », the file of an invoice, and its « Justificatif de paiement »."""

from .routes import bp

__all__ = ["bp"]
