from wtforms import SubmitField

from core.forms import Form


class CancelForm(Form):
    submit = SubmitField("Annuler le paiement")


class MarkDebitedForm(Form):
    submit = SubmitField("Confirmer : le virement est débité")
