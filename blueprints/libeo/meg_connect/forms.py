from wtforms import EmailField, PasswordField, RadioField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from core.forms import BankNameField, Form, normalized

from ..auth.forms import optional_iban, terms_field

PLAN_CHOICES = [
    SelectChoice("gratuit", "Gratuit"),
    SelectChoice("partnerships", "Partnerships — 9 € HT / mois (10,80 € TTC), sans engagement"),
]


class MegSignupForm(Form):
    """The account-creation step after MEG's consent; the SIRET is MEG's, never typed in."""

    company_name = BankNameField(
        "Nom de l'entreprise",
        validators=[DataRequired("Saisissez le nom de l'entreprise."), Length(max=200, message="Nom trop long.")],
    )
    email = EmailField(
        "Adresse e-mail",
        validators=[DataRequired("Saisissez votre adresse e-mail."), Length(max=254, message="Adresse trop longue.")],
    )
    full_name = StringField("Votre nom (facultatif)", validators=[Length(max=200, message="Nom trop long.")])
    plan = RadioField(
        "Formule",
        choices=PLAN_CHOICES,
        default="gratuit",
        validators=[DataRequired("Choisissez une formule.")],
    )
    password = PasswordField(
        "Mot de passe",
        validators=[DataRequired("Choisissez un mot de passe."), Length(max=128, message="Mot de passe trop long.")],
    )
    # The account Libeo debits, checked as on Libeo's own sign-up: MEG does not know it.
    debtor_iban = StringField("IBAN du compte à débiter (facultatif)", validators=[normalized(optional_iban)])
    terms = terms_field()
    submit = SubmitField("Créer mon compte Libeo")
