"""Base form for both products: WTForms' own messages in French, every field's text through the door."""

from __future__ import annotations

from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.utils import unset_value
from wtforms.validators import ValidationError
from wtforms.widgets import TextInput

from core.ids import MAX_ID
from core.sepa_text import name_to_show
from core.text import UnsafeText, door_text
from core.validators import InvalidIdentifier, clean_bank_name

# Fields a person does not see: a refusal names the form, not a label they never read.
_HIDDEN_TYPES = frozenset({"HiddenField", "CSRFTokenField"})


class Form(FlaskForm):
    """Every form of both products.

    Each field's submitted text goes through the door (``core.text``) as the
    form is filled, before any validator reads it: refused characters are
    taken out of the field's data and the form does not validate, with a
    French message under the field; the rest is normalised to NFC, so that
    lengths are measured on what is kept. Passwords are checked but never
    normalised: a password is compared as it was first typed.
    """

    class Meta:
        # WTForms ships French catalogues; Flask-WTF uses them when
        # WTF_I18N_ENABLED is off (we do not run Flask-Babel).
        locales = ("fr_FR", "fr")

    def process(self, formdata=None, obj=None, data=None, extra_filters=None, **kwargs) -> None:
        super().process(formdata, obj, data, extra_filters, **kwargs)
        self.door_refusals: dict[str, str] = {}
        for name, field in self._fields.items():
            if field.raw_data and all(isinstance(value, str) for value in field.raw_data):
                self._through_the_door(name, field)

    def _through_the_door(self, name: str, field) -> None:
        label = "Un champ caché du formulaire" if field.type in _HIDDEN_TYPES else field.label.text
        multiline = isinstance(field, TextAreaField)
        for raw in field.raw_data:
            try:
                door_text(raw, label, multiline=multiline)
            except UnsafeText as refused:
                self.door_refusals[name] = refused.message
                if refused.message not in field.process_errors:  # among its errors from the start of validation
                    field.process_errors.append(refused.message)
        if isinstance(field.data, str):
            data = field.data
            if name in self.door_refusals:  # what validators and the page see: the text without what was refused
                data = "".join(ch for ch in data if _passes(ch, multiline))
            field.data = data if isinstance(field, PasswordField) else door_text(data, label, multiline=multiline)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for name, message in getattr(self, "door_refusals", {}).items():
            field = self._fields[name]
            field.errors = [message, *(e for e in field.errors if e != message)]
            self._errors = None
        return valid and not getattr(self, "door_refusals", None)


def _passes(ch: str, multiline: bool) -> bool:
    try:
        door_text(ch, "", multiline=multiline)
    except UnsafeText:
        return False
    return True


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


# --- a name that goes to the bank ---------------------------------------------------------------

SHOWN_SUFFIX = "-banque"


class _BankNameInput(TextInput):
    """The text input; and, once the name's written form has been worked out, that form beside it
    (« Le nom sera transmis à la banque ainsi : … ») with a hidden copy the form sends back."""

    def __call__(self, field, **kwargs):
        html = super().__call__(field, **kwargs)
        if field.shown:
            html += Markup(
                '<input type="hidden" name="{0}" id="{1}" value="{2}">'
                '<p class="hint bank-name" id="{1}-texte">Le nom sera transmis à la banque ainsi : '
                '<strong class="mono">{2}</strong></p>'
            ).format(field.name + SHOWN_SUFFIX, field.id + SHOWN_SUFFIX, field.shown)
        return html


class BankNameField(StringField):
    """A beneficiary's or a debtor's name: what a SEPA transfer can carry, shown before it is saved.

    The name must keep a letter once written in the SEPA character set
    (``core.sepa_text``). When that writing is not obvious (another script,
    a symbol left out, a name cut at 70 characters) the form does not save
    the first time: it says « Le nom sera transmis à la banque ainsi : … »
    and carries what it showed in a hidden input; sent back with the same
    name, it saves. A name changed meanwhile is shown again.
    """

    widget = _BankNameInput()

    def __init__(self, label=None, validators=None, *, max_length: int = 200, applies=None, **kwargs) -> None:
        """``applies(form)``: whether the name is used at all (say, only for a new supplier); always by default."""
        super().__init__(label, [*(validators or ()), self._check_for_the_bank], **kwargs)
        self.max_length = max_length
        self.applies = applies
        self.shown: str | None = None

    def process(self, formdata, data=unset_value, extra_filters=None) -> None:
        super().process(formdata, data, extra_filters)
        current = name_to_show(self.data) if isinstance(self.data, str) and self.data else None
        if formdata is None or not self.raw_data:
            # Filled from what is stored: that name was shown when it was saved.
            self.shown = current
        else:
            # What the page showed, as sent back: it counts only for the very name typed now (a
            # name changed since, or a value made up, is shown afresh, never displayed as it came).
            seen = formdata.get(self.name + SHOWN_SUFFIX)
            self.shown = current if current is not None and seen == current else None

    def _check_for_the_bank(self, form, field) -> None:
        if not field.data or field.errors or (self.applies is not None and not self.applies(form)):
            return
        try:  # what the use case will check, so that the name is shown only once nothing else is wrong
            clean_bank_name(field.data, max_length=self.max_length, label=field.label.text)
        except InvalidIdentifier as exc:
            raise ValidationError(str(exc)) from exc
        to_show = name_to_show(field.data)
        if to_show is not None and field.shown != to_show:
            field.shown = to_show
            raise ValidationError(
                "Vérifiez le nom tel que la banque le recevra (ci-dessus) : s'il vous convient, validez de nouveau ; "
                "sinon, corrigez-le."
            )
