"""Base form for both products: WTForms' own messages in French."""

from flask_wtf import FlaskForm


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
    return number if 0 < number < 2**31 else None
