"""MEG's words where two walks found them wrong, and the site's icon."""

from __future__ import annotations

import pytest

from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState, payment_label
from tests.helpers import words as text


@pytest.mark.parametrize(("refusal", "code", "shown"), [
    ("Votre formule Gratuit inclut 5 paiements par mois, tous utilisés ce mois-ci.", "quota_exceeded",
     "Non payée — limite de la formule atteinte"),
    ("Votre compte n'a pas d'IBAN à débiter.", "validation_error", "Refusé : votre compte n'a pas d'IBAN à débiter."),
    ("IBAN du fournisseur invalide.", "invalid_iban", "Refusé : IBAN du fournisseur invalide."),
])
def test_a_refusal_reads_as_french_writes_after_a_colon(refusal, code, shown):
    assert payment_label(PaymentAttempt(status=PaymentState.REFUSED, refusal=refusal, refusal_code=code)) == shown


def test_the_association_is_named_with_its_article(client, demo, meg_auth):
    meg_auth.login("president@amis-du-quartier.fr")
    page = text(client.get("/meg/achats/options"))
    assert "Réglages du module « Achats » de l'Association Les Amis du Quartier." in page
    assert "de Association" not in page


@pytest.mark.parametrize("path", ["/favicon.ico", "/meg/favicon.ico", "/libeo/favicon.ico"])
def test_every_page_has_its_icon(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.content_type == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
