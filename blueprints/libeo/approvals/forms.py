from wtforms import SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from core.forms import Form


class ApproveForm(Form):
    submit = SubmitField("Approuver")


class RefuseForm(Form):
    reason = TextAreaField(
        "Motif du refus",
        validators=[DataRequired("Indiquez le motif du refus : il est montré à la personne qui a demandé le paiement."),
                    Length(max=300, message="Le motif ne doit pas dépasser 300 caractères.")],
    )
    submit = SubmitField("Refuser")
