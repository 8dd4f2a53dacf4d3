from wtforms import SelectField, SubmitField

from core.forms import Form, int_or_none


class ConsentForm(Form):
    company_id = SelectField("Entreprise", coerce=int_or_none)
    allow = SubmitField("Autoriser")
    deny = SubmitField("Refuser")
