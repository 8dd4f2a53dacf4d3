from wtforms import EmailField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from core.forms import Form


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
