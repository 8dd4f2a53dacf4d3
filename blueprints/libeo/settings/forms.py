import re

from wtforms import BooleanField, EmailField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, ValidationError

from core.forms import Form
from core.money import InvalidAmount, parse_amount


class BankAccountForm(Form):
    iban = StringField("IBAN du compte à débiter")
    bic = StringField("BIC (facultatif)")
    submit = SubmitField("Enregistrer")


class InviteUserForm(Form):
    email = EmailField(
        "Adresse e-mail de la personne à inviter",
        validators=[DataRequired("Saisissez une adresse e-mail."), Length(max=254)],
    )
    submit = SubmitField("Inviter")


class AccountantForm(Form):
    email = EmailField(
        "Adresse e-mail de votre expert-comptable",
        validators=[DataRequired("Saisissez une adresse e-mail."), Length(max=254)],
    )
    submit = SubmitField("Ajouter")


class ActionForm(Form):
    """A button that changes something (CSRF token only)."""

    submit = SubmitField("Confirmer")


class ApprovalRulesForm(Form):
    """« Configuration » → « Approbations »: the account's rules."""

    threshold = StringField("Au-delà de … €, un paiement doit être approuvé")
    accountant_payments = BooleanField("Les paiements initiés par l'expert-comptable doivent être approuvés")
    approver_not_requester = BooleanField("La personne qui a demandé un paiement ne peut pas l'approuver")
    dual_threshold = StringField("Au-delà de … €, deux approbateurs sont nécessaires")
    accountant_may_approve = BooleanField("L'expert-comptable peut approuver les paiements")
    submit = SubmitField("Enregistrer les règles")

    threshold_cents: int | None = None
    dual_threshold_cents: int | None = None

    def validate_threshold(self, field):
        self.threshold_cents = _amount_or_none(field.data)

    def validate_dual_threshold(self, field):
        self.dual_threshold_cents = _amount_or_none(field.data)


def _amount_or_none(data: str | None) -> int | None:
    text = (data or "").strip()
    if not text:
        return None
    if re.fullmatch(r"0+([,.]0{1,2})?\s*€?", text):
        return 0  # « au-delà de 0 € »: every payment
    try:
        return parse_amount(text)
    except InvalidAmount as exc:
        raise ValidationError(str(exc)) from exc
