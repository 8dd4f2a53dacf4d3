"""Forms of the e-invoice import. Each field is checked here, with a French message."""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, RadioField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from core.forms import BankNameField, Form, int_or_none, normalized
from core.validators import clean_text, normalize_bic, normalize_iban, normalize_siret
from models.meg.achats.models import PaymentMode

from ..achats.forms import InvoiceForm

NEW_SUPPLIER = "nouveau"
KEEP_IBAN, REPLACE_IBAN = "garder", "remplacer"


class UploadForm(Form):
    file = FileField(
        "Fichier de la facture électronique",
        validators=[FileRequired("Choisissez le fichier de la facture (PDF Factur-X, XML CII ou UBL).")],
    )
    submit = SubmitField("Lire la facture")


def _new_supplier_iban(form, field):
    """A new supplier's IBAN; none for one that debits the company itself (« Prélèvement »)."""
    if form.supplier_id.data != NEW_SUPPLIER:
        return
    if not (field.data or "").strip() and form.payment_mode.data == PaymentMode.PRELEVEMENT.name:
        field.data = None
        return
    normalized(normalize_iban)(form, field)


def _when_new(check):
    """A check of the new supplier's fields, run only when « Nouveau fournisseur » is chosen."""

    def validator(form, field):
        if form.supplier_id.data == NEW_SUPPLIER:
            check(form, field)

    return validator


class ImportForm(InvoiceForm):
    """The pre-filled invoice: « Achats »' invoice fields, and the supplier as the file names it."""

    supplier_id = SelectField("Fournisseur", validate_choice=False)
    amount = StringField("Net à payer (€)")  # the amount due (the total with VAT when nothing was prepaid)
    iban_choice = RadioField(
        "IBAN à utiliser pour ce fournisseur",
        choices=[SelectChoice(KEEP_IBAN, "Garder l'IBAN connu"),
                 SelectChoice(REPLACE_IBAN, "Remplacer par l'IBAN de la facture")],
        validators=[Optional()],
    )
    supplier_name = BankNameField("Nom du nouveau fournisseur", validators=[
        _when_new(normalized(clean_text, max_length=200, label="Nom du nouveau fournisseur"))],
        applies=lambda form: form.supplier_id.data == NEW_SUPPLIER)
    supplier_siret = StringField("SIRET (facultatif)", validators=[_when_new(normalized(
        lambda value: normalize_siret(value) if (value or "").strip() else None))])
    supplier_iban = StringField("IBAN", validators=[_new_supplier_iban])
    supplier_bic = StringField("BIC (facultatif)", validators=[_when_new(normalized(normalize_bic))])
    confirm_shared_iban = BooleanField("J'ai vérifié auprès du fournisseur : ce nouveau fournisseur partage cet IBAN")
    submit = SubmitField("Enregistrer la facture")

    def validate_supplier_id(self, field):
        if field.data != NEW_SUPPLIER and int_or_none(field.data) is None:
            raise ValidationError("Choisissez un fournisseur.")

    @property
    def chosen_supplier_id(self) -> int | None:
        """The existing supplier chosen, or None for « Nouveau fournisseur »."""
        return None if self.supplier_id.data == NEW_SUPPLIER else int_or_none(self.supplier_id.data)

    @property
    def replace_iban(self) -> bool | None:
        return {KEEP_IBAN: False, REPLACE_IBAN: True}.get(self.iban_choice.data)


class ButtonForm(Form):
    """A button (« Joindre ce fichier… », « Abandonner l'import »): CSRF token and nothing else."""
