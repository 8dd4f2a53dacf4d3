"""The form of « Remises »: the bank's status report to import."""

from flask_wtf.file import FileField, FileRequired
from wtforms import SubmitField

from core.forms import Form


class BankStatusForm(Form):
    report = FileField(
        "Relevé de la banque (fichier pain.002)",
        validators=[FileRequired("Choisissez le fichier du relevé envoyé par la banque.")],
    )
    submit = SubmitField("Importer le relevé")
