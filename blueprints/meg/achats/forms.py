"""Forms of « Achats ». Each field is checked here, with a French message."""

from __future__ import annotations

from datetime import date

from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError

from core.banks import bic_mismatch
from core.forms import BankNameField, Form, int_or_none, normalized
from core.money import InvalidAmount, cents_to_input, parse_amount
from core.validators import clean_text, normalize_bic, normalize_iban
from models.meg import PaymentMode
from models.meg.libeo_link.reconnecting import CONFIRMATION_LABEL

MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2099, 12, 31)


def _date_in_range(form, field):
    if field.data and not (MIN_DATE <= field.data <= MAX_DATE):
        raise ValidationError("Saisissez une date entre 2000 et 2099.")


class InvoiceForm(Form):
    number = StringField("Numéro", validators=[normalized(clean_text, max_length=60, label="Numéro")])
    supplier_id = SelectField("Fournisseur", coerce=int_or_none, validate_choice=False)
    issue_date = DateField("Date de facture", validators=[DataRequired("Saisissez une date valide."), _date_in_range])
    due_date = DateField("Échéance", validators=[DataRequired("Saisissez une date valide."), _date_in_range])
    amount = StringField("Montant TTC (€)")
    payment_mode = SelectField(
        "Mode de règlement",
        choices=[SelectChoice(mode.name, mode.label) for mode in PaymentMode],
        validators=[InputRequired("Choisissez un mode de règlement.")],
    )
    # Shown only with a duplicate warning: the person saw the other invoice and saves anyway.
    confirm_duplicate = BooleanField("Confirmer malgré le doublon")
    submit = SubmitField("Enregistrer")

    amount_cents: int | None = None

    def validate_supplier_id(self, field):
        if field.data is None:
            raise ValidationError("Choisissez un fournisseur.")

    def validate_amount(self, field):
        try:
            self.amount_cents = parse_amount(field.data)
        except InvalidAmount as exc:
            raise ValidationError(str(exc)) from exc

    def validate_due_date(self, field):
        if field.data and self.issue_date.data and field.data < self.issue_date.data:
            raise ValidationError("L'échéance ne peut pas précéder la date de facture.")

    def keep_locked(self, invoice) -> None:
        """While Libeo pays the invoice, its supplier, amount and mode stay the invoice's: those fields
        are shown disabled (so never sent), and whatever a request says about them is ignored."""
        values = {"supplier_id": invoice.supplier_id, "amount": cents_to_input(invoice.amount_cents),
                  "payment_mode": invoice.payment_mode.name}
        for name, value in values.items():
            self[name].data = value
            self[name].raw_data = [str(value)]

    def fill_from(self, invoice) -> None:
        self.number.data = invoice.number
        self.supplier_id.data = invoice.supplier_id
        self.issue_date.data = invoice.issue_date
        self.due_date.data = invoice.due_date
        self.amount.data = cents_to_input(invoice.amount_cents)
        self.payment_mode.data = invoice.payment_mode.name


class SupplierNameForm(Form):
    """« Modifier » a supplier, for who may not change its IBAN: its name; the page shows the IBAN masked."""

    name = BankNameField("Nom", validators=[normalized(clean_text, max_length=200, label="Nom")])
    confirm_lookalike = BooleanField("Confirmer malgré l'avertissement")
    submit = SubmitField("Enregistrer")


class SupplierForm(SupplierNameForm):
    """A new supplier, or « Modifier » for an « Achats » administrator: the name, the IBAN and the BIC."""

    iban = StringField("IBAN", validators=[normalized(normalize_iban)])
    bic = StringField("BIC (facultatif)", validators=[normalized(normalize_bic)])

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        problem = bic_mismatch(self.iban.data, self.bic.data)
        if problem:
            self.bic.errors = [*self.bic.errors, problem]
            return False
        return True


class LibeoKeyForm(Form):
    # Never echoed back into the page: the key is a secret.
    api_key = PasswordField("Clé d'api LIBEO", validators=[DataRequired("Collez la clé d'API affichée par Libeo.")])
    # Asked of a person who enrolled an authentication app (« Sécurité »).
    second_factor = StringField("Code de double authentification")
    submit = SubmitField("Enregistrer")


class ConfirmForm(Form):
    """A button-only form (« Payer », « Supprimer la connexion »): CSRF token and nothing else."""

    next = HiddenField()


class NotPaidForm(Form):
    """« Débloquer « Payer » » of a request « Vérification impossible »: the box is checked by the use case
    (``reconnecting.confirm_not_paid``), which says in French what is missing."""

    checked = BooleanField(CONFIRMATION_LABEL)
    next = HiddenField()


class PayForm(Form):
    """« Confirmer le paiement »: the date the transfer is executed (by default the one proposed)."""

    # Checked by « Payer » itself (core.calendar.check_execution_date), which proposes another date.
    execution_date = DateField("Date d'exécution", validators=[Optional()])
    # After a refusal in Libeo for a possible fraud: the person read its reason.
    refusal_seen = BooleanField("J'ai vérifié l'IBAN auprès du fournisseur")
    next = HiddenField()
    submit = SubmitField("Confirmer le paiement")
