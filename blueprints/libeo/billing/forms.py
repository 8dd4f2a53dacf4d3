from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from core.forms import Form


class SubscribeForm(Form):
    # The id of the SetupIntent Stripe.js has just confirmed.
    setup_intent = HiddenField(validators=[DataRequired("Saisissez votre carte bancaire, puis validez."),
                                           Length(max=255)])


class ChangeForm(Form):
    """Resign or resume: nothing but the CSRF token."""
