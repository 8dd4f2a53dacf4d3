"""The combined app never talks to the wrong peer.

An operator who runs ``flask --app app meg sync`` (the default app, both
products in one process) on a MEG deployed apart, ``LIBEO_URL`` naming the
real Libeo, must sync against that Libeo — not against the empty Libeo the
combined app also holds, which knows no key and no payment.
"""

from __future__ import annotations

import subprocess
import sys

from core.dates import date_fr

from .deployment import ROOT, WebClient
from .test_deployed_apart import libeo_invoice_ids
from .test_payment_truth_faults import (
    assert_same_story,
    chosen_date,
    confirm_payment,
    connect,
    libeo_payments,
    shows_everywhere,
)


def combined_app(deployment, *args: str) -> str:
    """``flask --app app <args>`` with MEG's settings (its database, its LIBEO_URL)."""
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                            env=deployment.sides["meg"].env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_the_combined_app_syncs_with_the_libeo_its_url_names(running):
    libeo, meg = connect(running)
    (invoice_id, number), *_ = libeo_invoice_ids(running)
    assert f"Paiement programmé le {date_fr(chosen_date())}" in confirm_payment(meg, invoice_id, chosen_date())
    [payment] = libeo_payments(running)
    cancelled = libeo.submit(f"/paiements/{payment['id']}/annuler", data={"next": f"/paiements/{payment['id']}"})
    assert "est annulé" in WebClient.text(cancelled)

    said = combined_app(running, "meg", "sync")
    assert "LIBEO_URL désigne un autre serveur" in said
    shows_everywhere(meg, invoice_id, number, "Annulé")
    options = WebClient.text(meg.get("/achats/options"))
    assert "La connexion est établie" in options and "révoquée" not in options
    assert_same_story(running)
