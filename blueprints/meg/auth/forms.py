from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from core.forms import Form


class LoginForm(Form):
    email = EmailField("Adresse e-mail", validators=[DataRequired("Saisissez votre adresse e-mail."), Length(max=254)])
    password = PasswordField("Mot de passe", validators=[DataRequired("Saisissez votre mot de passe."),
                                                         Length(max=128, message="Mot de passe trop long.")])
    submit = SubmitField("Se connecter")

