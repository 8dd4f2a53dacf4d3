"""Forms of « Factures ». Shapes are checked here; the domain checks the rest."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import DateField, StringField, SubmitField
from wtforms.validators import DataRequired, ValidationError

from core.forms import BankNameField, Form
from core.money import InvalidAmount, cents_to_input, parse_amount


class InvoiceForm(Form):
    number = StringField("Numéro")
    supplier_name = BankNameField("Fournisseur")
    supplier_iban = StringField("IBAN du fournisseur")
    supplier_bic = StringField("BIC (facultatif)")
    issue_date = DateField("Date de facture", validators=[DataRequired("Saisissez une date valide.")])
    due_date = DateField("Échéance", validators=[DataRequired("Saisissez une date valide.")])
    amount = StringField("Montant TTC (€)")
    document = FileField("Fichier de la facture (PDF, Factur-X, CII ou UBL, facultatif)")
    submit = SubmitField("Enregistrer")

    amount_cents: int | None = None

    def fill_blanks(self, values: dict) -> list[str]:
        """The fields left empty take ``values`` (an e-invoice's: form names, ``amount_cents`` for the amount);
        returns the labels filled. A field the person typed keeps what they typed."""
        filled = []
        for name, value in values.items():
            field = self.amount if name == "amount_cents" else self[name]
            if value is None or any(str(raw).strip() for raw in field.raw_data or ()):
                continue
            field.data = cents_to_input(value) if name == "amount_cents" else value
            field.raw_data, field.process_errors = [], []
            filled.append(field.label.text)
        return filled

    def validate_amount(self, field):
        try:
            self.amount_cents = parse_amount(field.data)
        except InvalidAmount as exc:
            raise ValidationError(str(exc)) from exc


class PayForm(Form):
    execution_date = DateField("Date d'exécution", validators=[DataRequired("Saisissez une date valide.")])
    submit = SubmitField("Payer")


class IbanForm(Form):
    """« Modifier l'IBAN du fournisseur » of an invoice entered in Libeo."""

    supplier_iban = StringField("Nouvel IBAN du fournisseur", validators=[DataRequired("Saisissez l'IBAN.")])
    supplier_bic = StringField("BIC (facultatif)")
    submit = SubmitField("Enregistrer le nouvel IBAN")
