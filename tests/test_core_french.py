from __future__ import annotations

import pytest

from core.french import of


@pytest.mark.parametrize(("name", "written"), [
    ("Association Les Amis du Quartier", "de l'Association Les Amis du Quartier"),
    ("Entreprise Dubois", "de l'Entreprise Dubois"),
    ("Atelier Roux", "de l'Atelier Roux"),
    ("Amandine Roux SAS", "d'Amandine Roux SAS"),
    ("Éts Moreau", "d'Éts Moreau"),
    ("Boulangerie Martin SARL", "de Boulangerie Martin SARL"),
    ("Hervé Transports", "de Hervé Transports"),
])
def test_de_before_a_name(name, written):
    assert of(name) == written
