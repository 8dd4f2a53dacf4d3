from wtforms import StringField, SubmitField
from wtforms.validators import ValidationError

from core.forms import Form
from core.validators import InvalidIdentifier, clean_text, normalize_siret


class CompanyForm(Form):
    name = StringField("Raison sociale")
    siret = StringField("SIRET (facultatif)")
    submit = SubmitField("Enregistrer")

    def validate_name(self, field):
        try:
            field.data = clean_text(field.data, max_length=200, label="Raison sociale")
        except InvalidIdentifier as exc:
            raise ValidationError(str(exc)) from exc

    def validate_siret(self, field):
        if not (field.data or "").strip():
            field.data = None
            return
        try:
            field.data = normalize_siret(field.data)
        except InvalidIdentifier as exc:
            raise ValidationError(str(exc)) from exc
