from wtforms import StringField, SubmitField

from core.forms import Form, normalized
from core.validators import clean_text, normalize_siret


def _optional_siret(value: str | None) -> str | None:
    return normalize_siret(value) if value and value.strip() else None


class ConfirmSiretForm(Form):
    """« Confirmer le SIRET »: a button (CSRF token only)."""

    submit = SubmitField("Confirmer le SIRET")


class CompanyForm(Form):
    name = StringField("Raison sociale", validators=[normalized(clean_text, max_length=200, label="Raison sociale")])
    siret = StringField("SIRET (facultatif)", validators=[normalized(_optional_siret)])
    submit = SubmitField("Enregistrer")
