from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from core.forms import BankNameField, Form, normalized
from core.validators import normalize_iban
from core.views import show_domain_errors
from models.libeo.accounts.services import signup_problems


def terms_field() -> BooleanField:
    """« J'accepte les conditions générales d'utilisation » (the template links the words to them)."""
    return BooleanField(
        "J'accepte les conditions générales d'utilisation",
        validators=[DataRequired("Acceptez les conditions générales d'utilisation pour créer votre compte.")],
    )


def optional_iban(value: str | None) -> str | None:
    return normalize_iban(value) if (value or "").strip() else None


class SignupForm(Form):
    email = EmailField("Adresse e-mail", validators=[DataRequired("Saisissez votre adresse e-mail."), Length(max=254)])
    password = PasswordField(
        "Mot de passe",
        validators=[DataRequired("Choisissez un mot de passe."), Length(max=128, message="Mot de passe trop long.")],
    )
    company_name = BankNameField("Nom de l'entreprise",
                                 validators=[DataRequired("Saisissez le nom de l'entreprise.")])
    siret = StringField("SIRET", validators=[DataRequired("Saisissez le SIRET de l'entreprise.")])
    full_name = StringField("Votre nom (facultatif)")
    # The account Libeo debits: asked now so that the first payment can leave; may be given later.
    debtor_iban = StringField("IBAN du compte à débiter (facultatif)", validators=[normalized(optional_iban)])
    terms = terms_field()
    submit = SubmitField("Créer mon compte")


def every_signup_problem_shown(form, siret: str | None) -> bool:
    """Checks a sign-up form whole (every field, then what the account would refuse): True if nothing
    is wrong, else every problem is under its field at once. ``siret`` None: MEG's, not typed in."""
    valid = form.validate()
    show_domain_errors(form, signup_problems(
        name=form.company_name.data, siret=siret, email=form.email.data, password=form.password.data,
        full_name=form.full_name.data,
    ), {"name": "company_name"})
    return valid and not form.errors
