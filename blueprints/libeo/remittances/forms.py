"""The forms of « Remises »: a bank file to import, a file transmitted, an anomaly resolved."""

from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SubmitField

from core.forms import Form


class BankStatusForm(Form):
    report = FileField(
        "Relevé de la banque (pain.002, camt.053 ou camt.054)",
        validators=[FileRequired("Choisissez le fichier du relevé envoyé par la banque.")],
    )
    submit = SubmitField("Importer le relevé")


class TransmitForm(Form):
    """« Transmis à la banque »: the person uploaded the file to their bank."""

    submit = SubmitField("Transmis à la banque")


class AnomalyForm(Form):
    """A person's decision on an anomaly: keep the payment's state, or apply what the bank said."""

    decision = HiddenField()
    payment_id = HiddenField()
    submit = SubmitField("Confirmer")
