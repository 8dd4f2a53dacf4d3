"""Notifications deployed apart: a « Payer » left « Vérification en cours » that Libeo then refuses.

Both products run under their own gunicorn, MEG reaching Libeo through a
fault proxy; mail goes through a real SMTP server (aiosmtpd), sent by each
product's own worker command (``flask meg notify``, ``flask libeo notify``).
"""

from __future__ import annotations

from tests.mail import plain

from .test_deployed_apart import libeo_invoice_ids
from .test_payment_truth_faults import chosen_date, confirm_payment, connect, meg_payments, shows_everywhere


def test_a_payer_refused_after_verification_tells_the_person_who_clicked(faulty, smtp):
    for side in ("meg", "libeo"):
        faulty.sides[side].env["SMTP_URL"] = smtp.url
    libeo, meg = connect(faulty)
    (invoice_id, number), *_ = libeo_invoice_ids(faulty)

    faulty.stop("libeo")  # its front still accepts: MEG cannot know whether Libeo acted
    answer = confirm_payment(meg, invoice_id, chosen_date())
    assert "Vérification en cours" in answer
    faulty.start("libeo")
    # Meanwhile, in Libeo, the company's administrator revokes MEG's key.
    revoked = libeo.submit("/configuration/integrations", "/configuration/integrations/meg/revoquer")
    assert revoked.status_code == 200

    faulty.flask("meg", "meg", "sync")  # the replay: Libeo refuses the key
    shows_everywhere(meg, invoice_id, number, "Refusé : la connexion à Libeo a été révoquée.")
    assert [p["status"] for p in meg_payments(faulty)] == ["REFUSED"]
    sent = faulty.flask("meg", "meg", "notify").stdout
    assert "E-mails envoyés : 2" in sent, sent

    told = {plain(message["Subject"]).strip(): message for message in smtp.messages}
    refused = told[next(s for s in told if s.startswith("Paiement refusé par Libeo"))]
    assert refused["X-Delivered-To"] == "admin@boulangerie-martin.fr"
    text = plain(refused.get_body(("plain",)).get_content())
    assert f"Facture : {number}" in text and "Vérification en cours" in text
    assert f"{faulty.url('meg')}/achats/factures/{invoice_id}?entreprise=" in text  # MEG's own PUBLIC_URL
    broken = next(s for s in told if "Libeo refuse la clé d'API" in s)
    assert told[broken]["X-Delivered-To"] == "admin@boulangerie-martin.fr"

    # Libeo's worker sends Libeo's own: the key made, then the key MEG was given (security notices).
    smtp.clear()
    assert "E-mails envoyés : 1" in faulty.flask("libeo", "libeo", "notify").stdout
    [key_made] = smtp.messages
    assert key_made["X-Delivered-To"] == "claire@boulangerie-martin.fr"
    assert plain(key_made["Subject"]).strip() == "Sécurité : nouvelle clé d'API MEG pour Boulangerie Martin SARL"
    assert faulty.url("libeo") + "/configuration/integrations" in key_made.get_body(("plain",)).get_content()
    assert "E-mails envoyés : 0" in faulty.flask("libeo", "libeo", "notify").stdout  # never twice
