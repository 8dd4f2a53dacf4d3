"""What the operator reads while both products work: gauges, ``status``, request ids, log lines.

The combined run (MEG's calls to Libeo through the in-process transport): a payment request
whose answer was lost an hour ago, a change Libeo refused for good, a SEPA file the bank has not
answered past its execution date; what ``/metrics`` and ``flask … status`` say of each, and that
the sync pass or the person's action clears it. Then one « Payer » read in both products' log
lines by its request id, and a representative run whose log lines hold no secret.
"""

from __future__ import annotations

import gc
import json
import re
import uuid
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, select, update

from core.dates import paris_today, utcnow
from models.libeo import db as libeo_db
from models.libeo.payments.models import Payment, SepaBatch
from models.meg import Company
from models.meg import db as meg_db
from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState, external_id, invoice_payload
from models.meg.libeo_link.outbox import OutboxMessage

from .conftest import BOULANGERIE_SIRET, libeo_payments, meg_libeo_invoices

SPACED_OR_COMPACT_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")


def scrape(client, side: str) -> dict:
    answer = client.get(f"/{side}/metrics")
    assert answer.status_code == 200
    found = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def gauge(found: dict, name: str, **labels) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def status(apps, side: str) -> tuple[int, str]:
    result = apps.root.test_cli_runner().invoke(args=[side, "status"])
    return result.exit_code, result.output


def sync(apps) -> str:
    """One sync pass (``flask meg sync``); its log lines (written while the command runs)."""
    result = apps.root.test_cli_runner().invoke(args=["meg", "sync"])
    assert result.exit_code == 0, result.output
    return result.stderr


def boulangerie(meg_app) -> Company:
    with meg_app.app_context():
        return meg_db.session.scalar(select(Company).where(Company.siret == BOULANGERIE_SIRET))


def lost_answer(meg_app, invoice_id: int, ago: timedelta) -> None:
    """A « Payer » MEG sent ``ago`` and whose answer never came back (Libeo never got it either)."""
    from models.meg import SupplierInvoice, User

    with meg_app.app_context():
        invoice = meg_db.session.get(SupplierInvoice, invoice_id)
        user = meg_db.session.scalar(select(User).where(User.email == "admin@boulangerie-martin.fr"))
        body = {"initiated_by": {"email": user.email, "role": "user"}, "invoice": invoice_payload(invoice)}
        meg_db.session.add(PaymentAttempt(invoice_id=invoice_id, idempotency_key=str(uuid.uuid4()), request_body=body,
                                          status=PaymentState.REQUESTED, requested_by_id=user.id,
                                          requested_at=utcnow() - ago))
        meg_db.session.commit()


# --- MEG: gauges, status, and what clears them ---------------------------------------------------------


def test_meg_status_asks_for_a_person_while_an_answer_is_lost_for_an_hour(connected, apps, client, meg_app):
    sync(apps)
    code, shown = status(apps, "meg")
    assert code == 0 and "Rien à signaler." in shown
    assert "Demandes de paiement sans réponse de Libeo" in shown and "1 active(s)" in shown

    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    lost_answer(meg_app, invoice_id, timedelta(hours=2))
    found = scrape(client, "meg")
    assert gauge(found, "meg_unheard_payment_requests") == 1
    assert gauge(found, "meg_unheard_payment_requests_oldest_age_seconds") >= 7200
    code, shown = status(apps, "meg")
    assert code == 1
    assert "1 demande(s) de paiement sans réponse de Libeo, la plus ancienne depuis 2 h 00 min" in shown
    assert "À traiter :" in shown

    sync(apps)  # replays the request: Libeo pays it now, once, and MEG hears it
    assert len(libeo_payments(apps.libeo)) == 1
    found = scrape(client, "meg")
    assert gauge(found, "meg_unheard_payment_requests") == 0
    assert gauge(found, "meg_unheard_payment_requests_oldest_age_seconds") == 0
    assert gauge(found, "meg_sync_last_success_timestamp_seconds") >= utcnow().timestamp() - 60
    assert 0 <= gauge(found, "meg_libeo_events_lag_max_seconds") < 60
    assert gauge(found, "meg_libeo_events_lagging_companies") == 0
    # No series per company: their number grows with the customers.
    assert not any(name.startswith("meg_libeo_events_lag") and labels for name, labels in found)
    assert gauge(found, "meg_libeo_connections", state="active") == 1
    assert status(apps, "meg")[0] == 0


def test_meg_status_names_the_company_whose_update_libeo_refused_for_good(connected, apps, client, meg_app):
    sync(apps)
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    company = boulangerie(meg_app)
    with meg_app.app_context():
        meg_db.session.add(OutboxMessage(company_id=company.id, invoice_id=invoice_id, payload={},
                                         refused_at=utcnow(), last_error="Libeo a refusé la mise à jour."))
        meg_db.session.commit()

    assert gauge(scrape(client, "meg"), "meg_outbox_dead_letters") == 1
    code, shown = status(apps, "meg")
    assert code == 1
    assert "1 mise(s) à jour refusée(s) définitivement par Libeo (entreprises : « Boulangerie Martin SARL »)" in shown
    assert "« Réessayer » ou « Ignorer » dans « Options »" in shown

    with meg_app.app_context():  # « Ignorer »
        meg_db.session.execute(update(OutboxMessage).values(ignored_at=utcnow()))
        meg_db.session.commit()
    assert gauge(scrape(client, "meg"), "meg_outbox_dead_letters") == 0
    assert status(apps, "meg")[0] == 0


def test_meg_status_says_when_no_sync_pass_ever_ran(connected, apps):
    code, shown = status(apps, "meg")
    assert code == 1 and "Aucun passage de synchronisation avec Libeo n'a abouti jusqu'ici" in shown


def test_the_gauges_cost_the_same_few_queries_whatever_the_data(connected, apps, client, meg_app):
    statements = []

    def count(*_args):
        statements.append(1)

    with meg_app.app_context():
        event.listen(meg_db.engine, "before_cursor_execute", count)
    with apps.libeo.app_context():
        event.listen(libeo_db.engine, "before_cursor_execute", count)
    sync(apps)
    scrape(client, "meg"), scrape(client, "libeo")
    statements.clear()
    scrape(client, "meg"), scrape(client, "libeo")
    few = len(statements)

    for invoice_id, *_ in meg_libeo_invoices(meg_app)[:3]:
        lost_answer(meg_app, invoice_id, timedelta(minutes=5))
    with meg_app.app_context():
        company = boulangerie(meg_app)
        for invoice_id, *_ in meg_libeo_invoices(meg_app)[:3]:
            meg_db.session.add(OutboxMessage(company_id=company.id, invoice_id=invoice_id, payload={}))
        meg_db.session.commit()
    sync(apps)  # three payments in Libeo
    statements.clear()
    scrape(client, "meg"), scrape(client, "libeo")
    assert len(statements) == few <= 12


# --- Libeo: a file the bank has not answered past its execution date ---------------------------------


def test_libeo_status_asks_for_a_person_for_a_file_unanswered_past_its_execution_date(connected, apps, client,
                                                                                        meg_app, tmp_path):
    from devtools.bank_simulator import status_report_for

    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    assert client.post(f"/meg/achats/factures/{invoice_id}/payer").status_code == 302
    [payment] = libeo_payments(apps.libeo)
    with apps.libeo.app_context():
        found = libeo_db.session.get(Payment, payment["id"])
        found.account.debtor_iban, found.account.debtor_bic = "FR7630004000031234567890143", "BNPAFRPP"
        day = found.execution_date
        libeo_db.session.commit()
    runner = apps.root.test_cli_runner()
    executed = runner.invoke(args=["libeo", "execute-payments", "--date", day.isoformat()])
    assert executed.exit_code == 0 and "remise" in executed.output
    found = scrape(client, "libeo")
    assert gauge(found, "libeo_sepa_files_waiting") == 1
    assert gauge(found, "libeo_payments", state="file_ready") == 1
    assert gauge(found, "libeo_sepa_files_overdue") == 0
    assert status(apps, "libeo")[0] == 0

    with apps.libeo.app_context():  # days pass: the file's execution date is behind us, no answer yet
        libeo_db.session.execute(update(SepaBatch).values(execution_date=paris_today() - timedelta(days=2)))
        libeo_db.session.commit()
        [batch] = libeo_db.session.scalars(select(SepaBatch)).all()
        reference, pain001 = batch.reference, batch.xml
    assert gauge(scrape(client, "libeo"), "libeo_sepa_files_overdue") == 1
    code, shown = status(apps, "libeo")
    assert code == 1
    assert f"1 remise(s) sans réponse de la banque après leur date d'exécution : {reference} (Boulangerie" in shown

    report = tmp_path / "pain002.xml"
    report.write_bytes(status_report_for(pain001))
    assert runner.invoke(args=["libeo", "import-bank-status", str(report)]).exit_code == 0
    found = scrape(client, "libeo")
    assert gauge(found, "libeo_sepa_files_waiting") == 0 and gauge(found, "libeo_payments", state="paid") == 1
    assert gauge(found, "libeo_bank_reports_imported") == 1
    code, shown = status(apps, "libeo")
    assert code == 0 and "Relevés de la banque importés" in shown and "Rien à signaler." in shown

    # The bank then rejects the debited transfer: an anomaly waits for a person of the account.
    report.write_bytes(status_report_for(pain001, default="RJCT"))
    assert runner.invoke(args=["libeo", "import-bank-status", str(report)]).exit_code != 0
    assert gauge(scrape(client, "libeo"), "libeo_bank_anomalies_open") == 1
    code, shown = status(apps, "libeo")
    assert code == 1
    assert "1 anomalie bancaire attend la décision d'une personne du compte dans « Remises »" in shown
    assert "1 payé, 0 rejeté, 0 annulé" in shown  # kept debited until decided; « 1 payés » before


# --- e-mails that do not leave: a worker stopped, a mail server down ------------------------------------


@pytest.mark.parametrize("side", ["meg", "libeo"])
def test_e_mails_waiting_too_long_are_an_operators_alert(connected, apps, client, smtp, mail, meg_app, side):
    """The mail server refuses (or no worker runs): what is due piles up; « status » says so past 15 minutes,
    with the server's last error, and ``/metrics`` counts it; once sent, all is well again."""
    from core.notifications import Recipient
    from tests.mail import _notifier

    notifier = _notifier(side)
    app = getattr(apps, side)
    kind = "payment_outcome" if side == "meg" else "api_key_created"
    data = {"outcome": "cancelled", "invoice_id": 1, "invoice_number": "F-1", "company_id": 1,
            "company_name": "Boulangerie Martin SARL", "supplier": "Minoterie", "amount": "10,00 €",
            "iban": "FR76 •••• 963", "status_label": "Annulé", "reason": None, "next_step": None,
            "account_name": "Boulangerie", "key_prefix": "lbo_meg_1234", "actor": "admin@boulangerie-martin.fr"}
    owner = boulangerie(meg_app).id if side == "meg" else connected["account_id"]
    mail.send(side)  # what the connection itself told, sent
    with app.app_context():
        person = notifier.db.session.scalar(select(notifier.user.email).order_by(notifier.user.id)) if (
            side == "libeo") else "admin@boulangerie-martin.fr"
        notifier.outbox.enqueue(kind, "operations:1", [Recipient(person)], data, owner)
        notifier.db.session.commit()
    smtp.stop()
    with app.app_context():
        notifier.run_pass()  # the server does not answer: delayed
    found = scrape(client, side)
    assert gauge(found, f"{side}_notifications_due") == 0  # retried later: not due yet
    code, shown = status(apps, side)
    assert "E-mails en attente d'envoi" in shown and "en attente d'envoi, le plus ancien" not in shown

    with app.app_context():  # twenty minutes later, still not sent
        from sqlalchemy import update as sql_update

        table = notifier.notification
        notifier.db.session.execute(sql_update(table).values(due_at=utcnow() - timedelta(minutes=20)))
        notifier.db.session.commit()
    found = scrape(client, side)
    assert gauge(found, f"{side}_notifications_due") == 1
    assert gauge(found, f"{side}_notifications_due_oldest_age_seconds") >= 1200
    code, shown = status(apps, side)
    assert code == 1
    assert "1 e-mail(s) en attente d'envoi, le plus ancien depuis 20 min" in shown
    assert f"flask --app app {side} notify --loop" in shown and "dernière erreur" in shown

    smtp.start()
    with app.app_context():
        notifier.run_pass()
    code, shown = status(apps, side)
    assert gauge(scrape(client, side), f"{side}_notifications_due") == 0 and "en attente d'envoi, le" not in shown


# --- one « Payer », one request id in both products' log lines ------------------------------------------


def test_one_payer_reads_as_one_request_id_in_both_products_logs(connected, client, meg_app, caplog):
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    caplog.clear()
    answer = client.post(f"/meg/achats/factures/{invoice_id}/payer", data={"next": "/meg/achats/reglements"})
    answer.get_data()
    request_id = answer.headers["X-Request-ID"]

    # (Libeo's first check of MEG's signature on who pays also reads MEG's published keys.)
    [meg_line] = [r for r in caplog.records if r.name == "meg.requests" and r.path.endswith("/payer")]
    [libeo_line] = [r for r in caplog.records if r.name == "libeo.requests"]
    assert meg_line.path == f"/meg/achats/factures/{invoice_id}/payer" and meg_line.status == 302
    assert libeo_line.path == f"/libeo/api/v1/invoices/{external_id(invoice_id)}/payments"
    assert libeo_line.status == 201 and libeo_line.route == "api.pay"
    assert meg_line.request_id == libeo_line.request_id == request_id
    company = boulangerie(meg_app)
    assert meg_line.user_id is not None and meg_line.account_id == company.id
    assert libeo_line.account_id == connected["account_id"]


# --- a representative run: no secret in any log line ------------------------------------------------------


@pytest.fixture
def json_logs(apps):
    """Log lines as production writes them (``LOG_FORMAT=json``), everything from DEBUG on."""
    from core.observability.logs import configure_logging

    configure_logging("json", "DEBUG")
    yield
    configure_logging("text", "INFO")


def test_no_secret_key_token_or_full_iban_in_the_log_lines_of_a_representative_run(
        json_logs, connected, apps, client, meg_app, capsys):
    from models.meg import Supplier

    from .test_meg_connect import Browser, consent_and_come_back, create_account_form, payer_links

    secrets_seen = {"demo-meg-2026", "mot-de-passe-solide-42", connected["key"],
                    apps.meg.config["SECRET_KEY"], apps.libeo.config["SECRET_KEY"],
                    apps.meg.config["LIBEO_KEY_ENCRYPTION_KEY"], apps.libeo.config["MEG_OAUTH_CLIENT_SECRET"]}
    capsys.readouterr()

    # Login failures on both products.
    client.post("/meg/connexion", data={"email": "admin@boulangerie-martin.fr", "password": "mauvais-mot-de-passe-1"})
    client.post("/libeo/connexion",
                data={"email": "claire@boulangerie-martin.fr", "password": "mauvais-mot-de-passe-2"})
    secrets_seen |= {"mauvais-mot-de-passe-1", "mauvais-mot-de-passe-2"}
    # API errors: a wrong key, a malformed body, a replay with another body.
    wrong_key = "lbo_meg_0123456789ab_" + "S" * 43
    secrets_seen.add(wrong_key[21:])
    api = {"Authorization": f"Bearer {connected['key']}"}
    client.get("/libeo/api/v1/me", headers={"Authorization": f"Bearer {wrong_key}"})
    client.post("/libeo/api/v1/invoices/meg-1/payments", data="{pas du json", headers={**api, "Idempotency-Key": "k1"},
                content_type="application/json")
    # « Payer », the sync pass, a lost answer replayed.
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    client.post("/meg/connexion", data={"email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026"})
    client.post(f"/meg/achats/factures/{invoice_id}/payer", data={"next": "/meg/achats/reglements"})
    second, *_ = meg_libeo_invoices(meg_app)[1]
    lost_answer(meg_app, second, timedelta(minutes=3))
    sync_lines = sync(apps)
    # The article's second path: « Me connecter avec MEG » (OAuth code, tokens, the key delivered to MEG).
    from app import register_meg_client

    register_meg_client(apps.meg, apps.libeo)
    browser = Browser(apps)
    browser.meg_login()
    browser.get(payer_links(browser)[0])
    consent_and_come_back(browser, meg_app)
    create_account_form(browser)
    # /metrics with its token, and an unexpected error whose message and traceback name secrets.
    apps.libeo.config["METRICS_TOKEN"] = "jeton-metriques-secret-42"
    secrets_seen.add("jeton-metriques-secret-42")
    client.get("/libeo/metrics", headers={"Authorization": "Bearer jeton-metriques-secret-42"})

    def broken():
        raise RuntimeError(f"échec du virement vers FR7630006000010000000791963 (clé {connected['key']}, "
                           "password=mot-de-passe-solide-42)")

    home, apps.meg.view_functions["main.home"] = apps.meg.view_functions["main.home"], broken
    apps.meg.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a 500 page, the traceback in the log
    try:
        failed = client.get("/meg/")
        assert failed.status_code == 500
        failed.close()  # its line is written now, not when the interpreter ends
    finally:
        apps.meg.view_functions["main.home"] = home

    from models.meg.libeo_link.connection import LibeoConnection
    from models.meg.oauth import OAuthToken

    with meg_app.app_context():
        secrets_seen |= {connection.api_key for connection in meg_db.session.scalars(select(LibeoConnection))}
        ibans = {supplier.iban for supplier in meg_db.session.scalars(select(Supplier))}
        assert meg_db.session.scalar(select(OAuthToken.id)) is not None  # the dance went through

    gc.collect()  # a request's line is written once its body is sent: answers this test never read, too
    logged = capsys.readouterr().err + sync_lines
    lines = [line for line in logged.splitlines() if line.strip()]
    assert len(lines) > 20
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {record["product"] for record in records} >= {"meg", "libeo"}
    assert all(record["request_id"] for record in records if record["logger"].endswith(".requests"))
    [error] = [r for r in records if r["level"] == "ERROR" and "Erreur inattendue" in r["message"]]
    assert "RuntimeError" in error["exception"] and "FR76…1963" in error["exception"]
    replayed = [r for r in records if r["logger"] == "libeo.requests" and r["route"] == "api.pay"
                and r["request_id"] in sync_lines and r["status"] == 201]
    assert replayed, "the sync pass's replay, under the pass's own request id"
    for secret in secrets_seen:
        assert secret not in logged, f"a secret reached the log: {secret[:6]}…"
    for iban in ibans:
        assert iban not in logged and " ".join(re.findall(".{1,4}", iban)) not in logged
    assert not SPACED_OR_COMPACT_IBAN.findall(logged), SPACED_OR_COMPACT_IBAN.findall(logged)[:3]
    assert not re.search(r"lbo_[a-z]+_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}", logged)
