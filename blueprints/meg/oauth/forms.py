from wtforms import SelectField, StringField, SubmitField

from core.forms import Form, int_or_none


class ConsentForm(Form):
    company_id = SelectField("Entreprise", coerce=int_or_none)
    # Shown when the client asks to deliver a Libeo key and the person enrolled an authentication app.
    second_factor = StringField("Code de double authentification")
    allow = SubmitField("Autoriser")
    deny = SubmitField("Refuser")
