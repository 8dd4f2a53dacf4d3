"""Only Libeo's own decision refuses a payment: a replay refused for its key or its pace stays unknown.

A « Payer » whose answer was lost is « Vérification en cours » while Libeo
holds the payment. If the replay that should settle it is answered 401 (the
key regenerated in Libeo), 403 or 429, Libeo did not look at the request: MEG
must not say « Refusé » (the person would pay by hand, twice). The attempt
stays locked, with why and what to do, on the invoice and on « Options »;
a new key of the same account settles it at the next sync pass.
"""

from __future__ import annotations

import pytest

from core.dates import date_fr

from .deployment import Deployment, WebClient
from .test_deployed_apart import libeo_invoice_ids
from .test_payment_truth_faults import (
    PAYMENTS,
    assert_same_story,
    chosen_date,
    confirm_payment,
    connect,
    libeo_payments,
    meg_payments,
    shows_everywhere,
    sync,
)

RECONNECT = "Reconnectez Libeo dans Options pour connaître l'issue de ce paiement"


def a_lost_answer(deployment) -> tuple[WebClient, WebClient, int, str]:
    """Connected, then « Payer » whose answer is lost after Libeo scheduled the payment."""
    libeo, meg = connect(deployment)
    (invoice_id, number), *_ = libeo_invoice_ids(deployment)
    deployment.proxy.drop_answers(PAYMENTS)
    assert "Vérification en cours" in confirm_payment(meg, invoice_id, chosen_date())
    deployment.proxy.heal()
    [payment] = libeo_payments(deployment)
    assert payment["status"] == "scheduled"
    return libeo, meg, invoice_id, number


def still_unknown(meg: WebClient, invoice_id: int, number: str, why: str) -> None:
    """« Vérification en cours » everywhere, the reason on the invoice and « Options », never « Refusé »."""
    shows_everywhere(meg, invoice_id, number, "Vérification en cours")
    invoice = WebClient.text(meg.get(f"/achats/factures/{invoice_id}"))
    assert why in invoice and "Refusé" not in invoice and "rien n'a été payé" not in invoice.lower()
    assert "Payer" not in invoice.split("<main", 1)[1].replace("Payée", "")
    options = WebClient.text(meg.get("/achats/options"))
    assert "Paiements en vérification" in options and number in options and why in options


def test_a_replay_refused_for_a_regenerated_key_stays_unknown_until_the_new_key_settles_it(faulty):
    libeo, meg, invoice_id, number = a_lost_answer(faulty)
    # In Libeo, the administrator regenerates MEG's key before the next sync pass.
    page = libeo.submit("/configuration/integrations", "/configuration/integrations/meg")
    new_key = page.text.split('id="meg-api-key">', 1)[1].split("<", 1)[0]

    sync(faulty)  # the replay gets 401
    still_unknown(meg, invoice_id, number, f"Libeo refuse la clé enregistrée : MEG ne peut pas savoir si ce paiement a "
                                           f"été créé. {RECONNECT}")
    assert [p["status"] for p in meg_payments(faulty)] == ["REQUESTED"]
    assert [p["status"] for p in libeo_payments(faulty)] == ["scheduled"]  # Libeo will pay it

    saved = meg.submit("/achats/options", data={"api_key": new_key})
    assert "La connexion est établie" in WebClient.text(saved)
    sync(faulty)
    shows_everywhere(meg, invoice_id, number, f"Programmé le {date_fr(chosen_date())}")
    assert RECONNECT not in WebClient.text(meg.get("/achats/options"))
    assert_same_story(faulty)


@pytest.fixture
def paced(tmp_path, worker_id_safe):
    """Deployed apart behind the fault proxy, Libeo letting each key make one payment request an hour."""
    apart = Deployment(tmp_path, worker_id_safe, with_proxy=True)
    apart.sides["libeo"].env.update({"RATELIMIT_ENABLED": "1", "PAYMENT_LIMIT": "1 per hour"})
    apart.set_up()
    apart.start("libeo")
    apart.start("meg")
    yield apart
    apart.close()


def test_a_replay_answered_429_stays_unknown_and_locked(paced):
    libeo, meg, invoice_id, number = a_lost_answer(paced)

    # « Vérifier maintenant »: the replay is answered « Trop de requêtes ».
    checked = meg.submit(f"/achats/factures/{invoice_id}", f"/achats/factures/{invoice_id}/verifier",
                         {"next": f"/achats/factures/{invoice_id}"})
    assert "Libeo demande de patienter (trop de requêtes)" in WebClient.text(checked)
    still_unknown(meg, invoice_id, number, "Libeo demande de patienter (trop de requêtes)")
    assert [p["status"] for p in meg_payments(paced)] == ["REQUESTED"]
    assert len(libeo_payments(paced)) == 1

    sync(paced)  # the events feed tells what the replay could not
    shows_everywhere(meg, invoice_id, number, f"Programmé le {date_fr(chosen_date())}")
    assert_same_story(paced)
