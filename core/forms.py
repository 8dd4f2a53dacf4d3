"""Base form for both products: WTForms' own messages in French."""

from flask_wtf import FlaskForm
from wtforms.validators import ValidationError

from core.ids import MAX_ID


class Form(FlaskForm):
    class Meta:
        # WTForms ships French catalogues; Flask-WTF uses them when
        # WTF_I18N_ENABLED is off (we do not run Flask-Babel).
        locales = ("fr_FR", "fr")


def int_or_none(value):
    """Coerce for select fields: a crafted value becomes None, not a 500."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def normalized(normalize, **options):
    """A validator that replaces the field's data by ``normalize(data, **options)``.

    The core's normalisers raise ValueError subclasses whose message is the
    French sentence to show next to the field.
    """

    def check(form, field):
        try:
            field.data = normalize(field.data, **options)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    return check
