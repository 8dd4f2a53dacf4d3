from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from core.forms import Form


def terms_field() -> BooleanField:
    """« J'accepte les conditions générales d'utilisation » (the template links the words to them)."""
    return BooleanField(
        "J'accepte les conditions générales d'utilisation",
        validators=[DataRequired("Acceptez les conditions générales d'utilisation pour créer votre compte.")],
    )


class SignupForm(Form):
    email = EmailField("Adresse e-mail", validators=[DataRequired("Saisissez votre adresse e-mail."), Length(max=254)])
    password = PasswordField(
        "Mot de passe",
        validators=[DataRequired("Choisissez un mot de passe."), Length(max=128, message="Mot de passe trop long.")],
    )
    company_name = StringField("Nom de l'entreprise", validators=[DataRequired("Saisissez le nom de l'entreprise.")])
    siret = StringField("SIRET", validators=[DataRequired("Saisissez le SIRET de l'entreprise.")])
    full_name = StringField("Votre nom (facultatif)")
    terms = terms_field()
    submit = SubmitField("Créer mon compte")


class LoginForm(Form):
    email = EmailField("Adresse e-mail", validators=[DataRequired("Saisissez votre adresse e-mail."), Length(max=254)])
    password = PasswordField(
        "Mot de passe",
        validators=[DataRequired("Saisissez votre mot de passe."), Length(max=128, message="Mot de passe trop long.")],
    )
    submit = SubmitField("Se connecter")

