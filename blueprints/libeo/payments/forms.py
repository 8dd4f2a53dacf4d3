from wtforms import DateField, SubmitField
from wtforms.validators import InputRequired

from core.forms import Form


class CancelForm(Form):
    submit = SubmitField("Annuler le paiement")


class MarkDebitedForm(Form):
    debit_date = DateField(
        "Date du débit sur votre relevé",
        validators=[InputRequired("Saisissez la date du débit, telle qu'elle figure sur le relevé de votre compte.")],
    )
    submit = SubmitField("Confirmer : le virement est débité")
