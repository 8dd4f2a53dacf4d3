"""Notifications deployed apart: a « Payer » left « Vérification en cours » that Libeo then refuses (quota).

Both products run under their own gunicorn, MEG reaching Libeo through a
fault proxy; mail goes through a real SMTP server (aiosmtpd), sent by each
product's own worker command (``flask meg notify``, ``flask libeo notify``).
"""

from __future__ import annotations

from sqlalchemy import text

from models.libeo.payments.quota import quota_month
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
    # Meanwhile the account's other payments used up the month's quota (its row says five of five).
    engine = faulty.engine("libeo")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO payment_usage (account_id, month, payment_count) "
                                "SELECT id, :month, 5 FROM account"), {"month": quota_month()})
    engine.dispose()

    faulty.flask("meg", "meg", "sync")  # the replay: Libeo refuses it, its own decision
    shows_everywhere(meg, invoice_id, number, "Non payée — limite de la formule atteinte")
    assert [p["status"] for p in meg_payments(faulty)] == ["REFUSED"]
    sent = faulty.flask("meg", "meg", "notify").stdout
    assert "E-mails envoyés : 1" in sent, sent

    told = {plain(message["Subject"]).strip(): message for message in smtp.messages}
    refused = told[next(s for s in told if s.startswith("Paiement refusé par Libeo"))]
    assert refused["X-Delivered-To"] == "admin@boulangerie-martin.fr"
    body = plain(refused.get_body(("plain",)).get_content())
    assert f"Facture : {number}" in body and "Vérification en cours" in body
    assert f"{faulty.url('meg')}/achats/factures/{invoice_id}?entreprise=" in body  # MEG's own PUBLIC_URL

    # Libeo's worker sends Libeo's own: the key made, then the key MEG was given (security notices).
    smtp.clear()
    assert "E-mails envoyés : 1" in faulty.flask("libeo", "libeo", "notify").stdout
    [key_made] = smtp.messages
    assert key_made["X-Delivered-To"] == "claire@boulangerie-martin.fr"
    assert plain(key_made["Subject"]).strip() == "Sécurité : nouvelle clé d'API MEG pour Boulangerie Martin SARL"
    assert faulty.url("libeo") + "/configuration/integrations" in key_made.get_body(("plain",)).get_content()
    assert "E-mails envoyés : 0" in faulty.flask("libeo", "libeo", "notify").stdout  # never twice
