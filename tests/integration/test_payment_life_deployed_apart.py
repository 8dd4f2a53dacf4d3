"""A payment's whole life across the two products deployed apart, told the same on both sides.

« Payer » in MEG → Libeo executes it into a SEPA file (« Fichier prêt — à
transmettre à votre banque ») → the file downloaded from « Remises » is valid
pain.001 → the bank's status report (pain.002, built by the bank simulator
from that very file) imported in « Remises » → « Débité le … » / « Rejeté :
motif » in Libeo, and after one sync pass « Payée via Libeo le … » /
« Rejeté : … » in every MEG list.
"""

from __future__ import annotations

import re
from pathlib import Path

import sepaxml
import xmlschema
from sqlalchemy import text

from core.calendar import next_business_day
from core.dates import date_fr, paris_today
from devtools.bank_simulator import statement_for, status_report_for

from .deployment import WebClient
from .test_deployed_apart import libeo_invoice_ids
from .test_payment_truth_faults import (
    assert_same_story,
    confirm_payment,
    connect,
    shows_everywhere,
)

PAIN001_XSD = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"


def end_to_end_ids(deployment) -> dict[str, str]:
    """MEG invoice reference → the SEPA end-to-end id of its payment."""
    engine = deployment.engine("libeo")
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT i.external_id, p.id FROM payment p JOIN invoice i ON i.id = p.invoice_id")).all()
    engine.dispose()
    return {external_id: f"LIBEO-{payment_id}" for external_id, payment_id in rows}


def test_paid_and_rejected_by_the_bank_the_same_on_both_sides(running):
    libeo, meg = connect(running)
    (paid_id, paid_number), (rejected_id, rejected_number), *_ = libeo_invoice_ids(running)
    day = next_business_day(paris_today())
    for invoice_id in (paid_id, rejected_id):
        assert f"Paiement programmé le {date_fr(day)}" in confirm_payment(meg, invoice_id, day)

    # Libeo executes the due payments into a SEPA file, not yet sent: the same words on both sides.
    libeo.submit("/configuration/", data={"iban": "FR76 3000 6000 0112 3456 7890 189", "bic": ""})
    running.flask("libeo", "libeo", "execute-payments", "--date", day.isoformat())
    running.flask("meg", "meg", "sync")
    shows_everywhere(meg, paid_id, paid_number, "Fichier prêt — à transmettre à votre banque")
    remittances = WebClient.text(libeo.get("/remises/"))
    download = re.search(r'href="(/remises/\d+/fichier)"', remittances).group(1)
    pain001 = libeo.get(download)
    assert pain001.status_code == 200 and "xml" in pain001.headers["Content-Type"]
    xmlschema.XMLSchema(str(PAIN001_XSD)).validate(pain001.content.decode())

    # The bank answers: one transfer settled, the other rejected (insufficient funds).
    ids = end_to_end_ids(running)
    report = status_report_for(pain001.content, {ids[f"meg-{rejected_id}"]: ("RJCT", "AM04")})
    imported = libeo.submit("/remises/", "/remises/releve",
                            files={"report": ("pain002.xml", report, "application/xml")})
    assert imported.status_code == 200
    payments = WebClient.text(libeo.get("/paiements/"))
    assert "Débité le" in payments and "Rejeté : " in payments and "(AM04)" in payments

    running.flask("meg", "meg", "sync")
    shows_everywhere(meg, paid_id, paid_number, "Payée via Libeo le")
    shows_everywhere(meg, rejected_id, rejected_number, "Rejeté : ")
    rejected_page = WebClient.text(meg.get(f"/achats/factures/{rejected_id}"))
    assert "(AM04)" in rejected_page
    assert f"payer={rejected_id}" in rejected_page  # rejected for want of funds: it may be paid again
    assert_same_story(running)

    # The bank's statement then debits the rejected transfer after all: Libeo keeps it rejected with an anomaly
    # for a person, which MEG tells, holding « Payer » meanwhile (paying again could pay twice).
    statement = statement_for(pain001.content, debited=[ids[f"meg-{rejected_id}"]], booking_date=day)
    imported = libeo.submit("/remises/", "/remises/releve",
                            files={"report": ("camt054.xml", statement, "application/xml")})
    assert "1 anomalie à vérifier" in WebClient.text(imported)
    sync_now(running)
    shows_everywhere(meg, rejected_id, rejected_number, "Anomalie bancaire à vérifier dans Libeo")
    rejected_page = WebClient.text(meg.get(f"/achats/factures/{rejected_id}"))
    assert f"payer={rejected_id}" not in rejected_page
    assert_same_story(running)


def sync_now(deployment) -> None:
    """One MEG sync pass that reads Libeo's feed at once (nothing is in flight in MEG)."""
    quiet = deployment.sides["meg"].env.get("SYNC_QUIET_SECONDS")
    deployment.sides["meg"].env["SYNC_QUIET_SECONDS"] = "0"
    try:
        deployment.flask("meg", "meg", "sync")
    finally:
        if quiet is None:
            del deployment.sides["meg"].env["SYNC_QUIET_SECONDS"]
        else:
            deployment.sides["meg"].env["SYNC_QUIET_SECONDS"] = quiet


def test_a_payment_made_again_waits_for_the_anomaly_of_the_first_transfer_on_both_sides(running):
    """Rejected, paid again from MEG, then the bank's statement debits the first transfer after all: the new
    payment leaves for the bank only once a person has decided, and both products say so meanwhile."""
    libeo, meg = connect(running)
    (invoice_id, number), *_ = libeo_invoice_ids(running)
    day = next_business_day(paris_today())
    assert f"Paiement programmé le {date_fr(day)}" in confirm_payment(meg, invoice_id, day)
    libeo.submit("/configuration/", data={"iban": "FR76 3000 6000 0112 3456 7890 189", "bic": ""})
    running.flask("libeo", "libeo", "execute-payments", "--date", day.isoformat())
    remittances = WebClient.text(libeo.get("/remises/"))
    pain001 = libeo.get(re.search(r'href="(/remises/\d+/fichier)"', remittances).group(1)).content
    first = end_to_end_ids(running)[f"meg-{invoice_id}"]
    libeo.submit("/remises/", "/remises/releve",
                 files={"report": ("pain002.xml", status_report_for(pain001, {first: ("RJCT", "MS03")}),
                                   "application/xml")})
    sync_now(running)
    shows_everywhere(meg, invoice_id, number, "Rejeté : ")

    # Paid again from MEG, then the statement says the first transfer was debited after all.
    later = next_business_day(day)
    assert f"Paiement programmé le {date_fr(later)}" in confirm_payment(meg, invoice_id, later)
    statement = statement_for(pain001, debited=[first], booking_date=day)
    imported = libeo.submit("/remises/", "/remises/releve",
                            files={"report": ("camt054.xml", statement, "application/xml")})
    assert "1 anomalie à vérifier" in WebClient.text(imported)
    sync_now(running)
    shows_everywhere(meg, invoice_id, number, "Anomalie bancaire à vérifier dans Libeo")
    assert "Libeo n'envoie pas ce paiement à la banque" in WebClient.text(meg.get(f"/achats/factures/{invoice_id}"))
    assert_same_story(running)

    # Libeo's execution leaves it out of every file and says why.
    held = running.flask("libeo", "libeo", "execute-payments", "--date", later.isoformat())
    assert "1 paiement(s) en attente — anomalie bancaire sur un virement précédent" in held.stdout
    assert "remise" not in held.stdout
    assert "en attente : anomalie bancaire à vérifier sur le virement précédent de cette facture" in WebClient.text(
        libeo.get("/paiements/"))

    # The bank says the first transfer was not debited: kept rejected, the new payment goes at the next execution.
    remittances = WebClient.text(libeo.get("/remises/"))
    anomaly = re.search(r'action="(/remises/anomalies/\d+)"', libeo.get("/remises/").text).group(1)
    assert "Un nouveau paiement de cette facture" in remittances
    libeo.submit("/remises/", anomaly, data={"decision": "keep"})
    sent = running.flask("libeo", "libeo", "execute-payments", "--date", later.isoformat())
    assert "1 virement(s)" in sent.stdout and "en attente" not in sent.stdout
    sync_now(running)
    shows_everywhere(meg, invoice_id, number, "Fichier prêt — à transmettre à votre banque")
    assert "Anomalie bancaire" not in WebClient.text(meg.get(f"/achats/factures/{invoice_id}"))
    assert_same_story(running)
