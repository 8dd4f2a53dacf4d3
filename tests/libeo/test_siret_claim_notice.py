"""An account whose SIRET the company's verified claimant asks for is told, not silently emptied: a security
e-mail to its administrators when the claim waits for support's review, and again when support takes the SIRET
back (« SIRET à confirmer », its key revoked); the « Journal » says both."""

from __future__ import annotations

from datetime import date

from models.libeo import Account, db
from models.libeo.accounts.services import siret_claimed, take_siret_back
from tests.factories import libeo_invoice

from .conftest import make_account

CLAIMANT = "gerant@garage-leroy.fr, administrateur « Achats » de « Garage Leroy SAS » dans MEG"


def test_the_holder_of_a_claimed_siret_is_told_when_claimed_and_when_it_loses_it(libeo_app, mail):
    holder = make_account(libeo_app, name="Garage Leroy (faux)", verified=False)
    with libeo_app.app_context():
        account = db.session.get(Account, holder.id)
        libeo_invoice(account, "X-1", supplier_name="Complice SARL", issue_date=date(2026, 10, 1),
                      due_date=date(2026, 10, 31), amount_cents=980_000)
        siret_claimed(holder.id, holder.siret, CLAIMANT, "gerant@garage-leroy.fr")
        siret_claimed(holder.id, holder.siret, CLAIMANT, "gerant@garage-leroy.fr")  # asked again: told once
        db.session.commit()
    mail.send("libeo")
    claim = mail.one(holder.email)
    assert claim.subject.startswith("Sécurité : le SIRET ") and claim.subject.endswith("est revendiqué")
    assert "jusqu'à l'examen du support de Libeo" in claim.text and CLAIMANT in claim.text
    mail.clear()

    with libeo_app.app_context():
        take_siret_back(holder.siret, "décision du support de Libeo", by_support=True)
        db.session.commit()
    mail.send("libeo")
    lost = mail.one(holder.email)
    assert lost.subject.endswith("a été confirmé par un autre compte")
    for body in (lost.text, lost.html_text):
        assert "« SIRET à confirmer »" in body and "sa clé d'API MEG est révoquée" in body
