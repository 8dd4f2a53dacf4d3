"""Both products tell the same story under a single fault (deployed apart, real sockets).

MEG reaches Libeo through a fault proxy: an answer lost after Libeo acted,
Libeo down behind it or stopped, the sync worker killed in the middle of a
pass. In each case MEG never says that nothing was paid while Libeo may have
paid, locks the invoice meanwhile, and after the fault ends, one sync pass
brings both sides to the same single payment, on the chosen date.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from core.calendar import next_business_day
from core.dates import date_fr, paris_today

from .deployment import FACTORIES, ROOT, WebClient
from .test_deployed_apart import libeo_invoice_ids, libeo_signup_and_key, meg_login

PAYMENTS = r"POST /api/v1/invoices/[^ ]+/payments"


def chosen_date() -> date:
    """A business day a few weeks ahead, unlike any invoice's default."""
    return next_business_day(paris_today() + timedelta(days=20))


def connect(deployment) -> tuple[WebClient, WebClient]:
    """Signed up in Libeo, verified by its support (its payments are executed), connected in MEG « Options »."""
    libeo, meg = deployment.client("libeo"), deployment.client("meg")
    key = libeo_signup_and_key(libeo)
    deployment.flask("libeo", "libeo", "verify-account", "--siret", "83451234500002")
    meg_login(meg)
    assert "La connexion est établie" in WebClient.text(meg.submit("/achats/options", data={"api_key": key}))
    return libeo, meg


def confirm_payment(meg: WebClient, invoice_id: int, day: date) -> str:
    """« Payer » in « Règlements », then « Confirmer le paiement » with that « Date d'exécution »."""
    page = WebClient.text(meg.get(f"/achats/reglements?payer={invoice_id}"))
    assert "Confirmer le paiement" in page and "Date d'exécution" in page
    answer = meg.submit(f"/achats/reglements?payer={invoice_id}", f"/achats/factures/{invoice_id}/payer",
                        {"execution_date": day.isoformat(), "next": "/achats/reglements"})
    return WebClient.text(answer)


def libeo_payments(deployment) -> list[dict]:
    engine = deployment.engine("libeo")
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT p.id, p.status, p.execution_date, p.bank_anomaly, i.external_id "
            "FROM payment p JOIN invoice i ON i.id = p.invoice_id "
            "ORDER BY p.id")).mappings().all()
    engine.dispose()
    return [dict(row) for row in rows]


def meg_payments(deployment) -> list[dict]:
    engine = deployment.engine("meg")
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT invoice_id, status, libeo_payment_id, execution_date, bank_anomaly "
            "FROM libeo_payment ORDER BY id")).mappings().all()
    engine.dispose()
    return [dict(row) for row in rows]


def assert_same_story(deployment) -> None:
    """Every payment Libeo has for a MEG invoice is the one MEG shows, in the same state; none twice."""
    libeo = {str(p["id"]): p for p in libeo_payments(deployment) if (p["external_id"] or "").startswith("meg-")}
    meg = [p for p in meg_payments(deployment) if p["libeo_payment_id"]]
    assert sorted(p["libeo_payment_id"] for p in meg) == sorted(libeo)
    for payment in meg:
        theirs = libeo[payment["libeo_payment_id"]]
        assert payment["status"].lower() == theirs["status"]
        assert str(payment["execution_date"]) == str(theirs["execution_date"])
        assert payment["bank_anomaly"] == theirs["bank_anomaly"]  # a bank anomaly told on both sides, or none
    # A rejected transfer the bank may have debited still holds its invoice, and a payment made again meanwhile
    # waits for that decision (no SEPA file takes it): it is not one more way of paying the invoice.
    doubtful = {p["external_id"] for p in libeo.values() if p["status"] == "failed" and p["bank_anomaly"]}
    active = [p["external_id"] for p in libeo.values()
              if (p["status"] == "failed" and p["bank_anomaly"])
              or (p["status"] not in ("cancelled", "failed") and p["external_id"] not in doubtful)]
    assert len(active) == len(set(active))  # no invoice paid twice
    assert all(p["bank_anomaly"] for p in libeo.values()  # and the payment that waits says why
               if p["external_id"] in doubtful and p["status"] not in ("cancelled", "failed"))


def shows_everywhere(meg: WebClient, invoice_id: int, number: str, label: str) -> None:
    """The same words on the invoice page, in « Factures » and, unless paid, in « Règlements »."""
    invoice = WebClient.text(meg.get(f"/achats/factures/{invoice_id}"))
    assert label in invoice, invoice
    assert "À régler" not in invoice
    listing = WebClient.text(meg.get("/achats/"))
    row = re.search(rf"{re.escape(number)}</a>.*?</tr>", listing, re.S).group(0)
    assert label in row
    settlements = WebClient.text(meg.get("/achats/reglements"))
    if label.startswith("Payée"):
        assert number not in settlements
    else:
        assert label in re.search(rf"{re.escape(number)}</a>.*?</tr>", settlements, re.S).group(0)


def refuses_change_of_mode(meg: WebClient, invoice_id: int) -> None:
    """The edit form shows the mode locked, with the reason; a request that changes it anyway changes nothing."""
    edit = f"/achats/factures/{invoice_id}/modifier"
    form = WebClient.text(meg.get(edit))
    assert "Vérification en cours" in form and "ne la réglez pas autrement" in form, form[form.find("<main"):][:3000]
    assert re.search(r'<select[^>]*\bdisabled\b[^>]*name="payment_mode"', form)
    fields = {name: re.search(rf'name="{name}"[^>]*value="([^"]*)"', form).group(1)
              for name in ("number", "issue_date", "due_date")}
    meg.submit(edit, data={**fields, "payment_mode": "VIREMENT"})
    assert "Virement par Libeo" in WebClient.text(meg.get(f"/achats/factures/{invoice_id}"))


def sync(deployment) -> str:
    return deployment.flask("meg", "meg", "sync").stdout


def test_an_answer_lost_after_libeo_paid_is_settled_by_one_sync_pass(faulty):
    libeo, meg = connect(faulty)
    (invoice_id, number), *_ = libeo_invoice_ids(faulty)
    day = chosen_date()

    faulty.proxy.drop_answers(PAYMENTS)
    answer = confirm_payment(meg, invoice_id, day)
    assert faulty.proxy.dropped, "the payment request went through the proxy"
    assert "Vérification en cours" in answer
    assert "rien n'a été payé" not in answer.lower()
    [created] = libeo_payments(faulty)  # Libeo did pay
    assert created["status"] == "scheduled" and str(created["execution_date"]) == day.isoformat()
    shows_everywhere(meg, invoice_id, number, "Vérification en cours")
    refuses_change_of_mode(meg, invoice_id)

    faulty.proxy.heal()
    sync(faulty)
    assert len(libeo_payments(faulty)) == 1
    shows_everywhere(meg, invoice_id, number, f"Programmé le {date_fr(day)}")
    assert_same_story(faulty)


def test_a_payment_cancelled_in_libeo_after_its_answer_was_lost_reads_cancelled_when_checked(faulty):
    """Libeo answers a replayed request with its first answer, « scheduled »: MEG told the person who clicked
    « Vérifier maintenant » « Programmé » for a payment cancelled in Libeo meanwhile, until the next pass."""
    libeo, meg = connect(faulty)
    (invoice_id, number), *_ = libeo_invoice_ids(faulty)
    faulty.proxy.drop_answers(PAYMENTS)
    assert "Vérification en cours" in confirm_payment(meg, invoice_id, chosen_date())
    [created] = libeo_payments(faulty)
    assert "est annulé" in WebClient.text(libeo.submit(f"/paiements/{created['id']}/annuler"))

    faulty.proxy.heal()
    checked = WebClient.text(meg.submit(f"/achats/factures/{invoice_id}", f"/achats/factures/{invoice_id}/verifier",
                                        {"next": f"/meg/achats/factures/{invoice_id}"}))
    assert "Libeo a répondu : Annulé." in checked, checked[checked.find("<main"):][:2000]
    assert "Programmé" not in checked
    assert [p["status"] for p in libeo_payments(faulty)] == ["cancelled"]
    assert_same_story(faulty)


def test_libeo_down_behind_its_front_then_back(faulty):
    """The front (proxy) accepts the connection but Libeo behind it is stopped: MEG cannot know."""
    libeo, meg = connect(faulty)
    (invoice_id, number), *_ = libeo_invoice_ids(faulty)
    day = chosen_date()

    faulty.stop("libeo")
    answer = confirm_payment(meg, invoice_id, day)
    assert "Vérification en cours" in answer and "rien n'a été payé" not in answer.lower()
    shows_everywhere(meg, invoice_id, number, "Vérification en cours")
    sync(faulty)  # still down: nothing changes, nothing is lost
    shows_everywhere(meg, invoice_id, number, "Vérification en cours")

    faulty.start("libeo")
    sync(faulty)
    [payment] = libeo_payments(faulty)
    assert payment["status"] == "scheduled" and str(payment["execution_date"]) == day.isoformat()
    shows_everywhere(meg, invoice_id, number, f"Programmé le {date_fr(day)}")
    assert_same_story(faulty)


def test_libeo_stopped_refuses_the_connection_and_nothing_is_paid(running):
    """Without a front, a stopped Libeo refuses the connection: MEG knows nothing was sent, and says so."""
    libeo, meg = connect(running)
    (invoice_id, number), *_ = libeo_invoice_ids(running)

    running.stop("libeo")
    answer = confirm_payment(meg, invoice_id, chosen_date())
    assert "n'a pas pu lui être envoyée" in answer and "Rien n'a été payé" in answer
    assert meg_payments(running) == []

    running.start("libeo")
    answer = confirm_payment(meg, invoice_id, chosen_date())
    assert f"Paiement programmé le {date_fr(chosen_date())}" in answer
    assert len(libeo_payments(running)) == 1
    assert_same_story(running)


@pytest.fixture
def quick_claims(faulty):
    """Claims a killed worker leaves behind expire in seconds, not minutes."""
    faulty.sides["meg"].env["SYNC_CLAIM_SECONDS"] = "3"
    return faulty


def test_a_sync_worker_killed_mid_pass_is_taken_over(quick_claims):
    deployment = quick_claims
    libeo, meg = connect(deployment)
    (invoice_id, number), *_ = libeo_invoice_ids(deployment)
    day = chosen_date()
    deployment.proxy.drop_answers(PAYMENTS)
    confirm_payment(meg, invoice_id, day)

    # The worker's replay reaches Libeo, whose answer is held: the worker is killed while it waits.
    deployment.proxy.heal()
    deployment.proxy.slow(30)
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", FACTORIES["meg"], "meg", "sync", "--loop"],
                              cwd=ROOT, env=deployment.sides["meg"].env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not any("payments" in line for line in deployment.proxy.forwarded) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any("payments" in line for line in deployment.proxy.forwarded), "the worker replayed the request"
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    shows_everywhere(meg, invoice_id, number, "Vérification en cours")

    deployment.proxy.heal()
    time.sleep(3.5)  # the dead worker's claims expire
    sync(deployment)
    assert len(libeo_payments(deployment)) == 1
    shows_everywhere(meg, invoice_id, number, f"Programmé le {date_fr(day)}")
    assert_same_story(deployment)
