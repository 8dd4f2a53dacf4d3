"""A payment's whole life in Libeo, as a person lives it.

Pay → the execution puts it in a SEPA file (« Fichier prêt — à transmettre à
votre banque ») → the file is downloaded from « Remises » and said
« Transmis à la banque » → the bank's status reports (pain.002, built by
devtools.bank_simulator from that very file) are imported → « Accepté par la
banque le … », then « Débité le … » or « Rejeté : … » on every page;
« Marquer comme débité »; the command line; and refusals that change nothing.
"""

from __future__ import annotations

import itertools
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path

import pytest
import sepaxml
import xmlschema
from sqlalchemy import func, select

from core.calendar import earliest_execution_date
from core.dates import paris_today
from devtools.bank_simulator import status_report_for
from models.libeo import BankStatusImport, Payment, PaymentEvent, Plan, db
from tests.helpers import page as text

from .conftest import (
    DEBTOR_IBAN,
    RUN_DAY,
    SUPPLIER_IBAN,
    Api,
    backdate_due_payments,
    count_queries,
    make_account,
    make_key,
    valid_iban,
)

XSD = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    day = earliest_execution_date(paris_today())
    return {"DAY": day, "SHOWN_DAY": f"{day:%d/%m/%Y}", "TODAY": f"{paris_today():%d/%m/%Y}"}


DAY, SHOWN_DAY, TODAY = dated_constants().values()
CLOSED_ACCOUNT = "Rejeté : compte du bénéficiaire clôturé (AC04)"
FILE_READY = "Fichier prêt — à transmettre à votre banque"


_invoices = itertools.count()


def _new_invoice(client, number: str, supplier: str | None = None, iban: str = SUPPLIER_IBAN) -> int:
    """An invoice of 1 234,56 € entered in Libeo, that no safeguard holds.

    Each IBAN has its own supplier (else a new IBAN), and each invoice its own
    issue date, 8 days from the others (else a duplicate: same amount).
    """
    supplier = supplier or ("Laiterie des Prés" if iban == SUPPLIER_IBAN else f"Fournisseur {iban[-6:]}")
    issued = date(2026, 10, 15) - timedelta(days=8 * next(_invoices))
    page = client.post(
        "/libeo/factures/nouvelle",
        data={"number": number, "supplier_name": supplier, "supplier_iban": iban, "supplier_bic": "",
              "issue_date": issued.isoformat(), "due_date": "2026-10-15", "amount": "1 234,56"},
    )
    assert page.status_code == 302, text(page)
    return int(page.headers["Location"].rsplit("/", 1)[1])


def _pay(client, invoice_id: int) -> None:
    page = text(client.post(f"/libeo/factures/{invoice_id}/payer", data={"execution_date": DAY.isoformat()},
                            follow_redirects=True))
    assert f"Programmé le {SHOWN_DAY}" in page, page


def _execute(apps) -> str:
    backdate_due_payments(apps.libeo)
    result = apps.root.test_cli_runner().invoke(args=["libeo", "execute-payments", "--date", RUN_DAY.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def _download(client) -> bytes:
    remittances = text(client.get("/libeo/remises/"))
    link = re.search(r'href="(/libeo/remises/\d+/fichier)"', remittances).group(1)
    response = client.get(link)
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert re.fullmatch(r"attachment; filename=LBO-\d{14}-\d+\.xml", response.headers["Content-Disposition"])
    assert "no-store" in response.headers["Cache-Control"]
    xmlschema.XMLSchema(str(XSD)).validate(response.data.decode())  # what the bank will check first
    return response.data


def _upload(client, report: bytes, name: str = "releve.xml"):
    return client.post("/libeo/remises/releve", data={"report": (BytesIO(report), name)},
                       content_type="multipart/form-data", follow_redirects=True)


def _transmit(client) -> str:
    """« Transmis à la banque » on the latest file of « Remises »."""
    remittances = text(client.get("/libeo/remises/"))
    action = re.search(r'action="(/libeo/remises/\d+/transmise)"', remittances).group(1)
    return text(client.post(action, follow_redirects=True))


def _payment_ids(libeo_app) -> list[int]:
    with libeo_app.app_context():
        return list(db.session.scalars(select(Payment.id).order_by(Payment.id)))


def _event_count(libeo_app) -> int:
    with libeo_app.app_context():
        return db.session.scalar(select(func.count(PaymentEvent.id)))


@pytest.fixture
def company(libeo_app, libeo_auth):
    """Boulangerie Martin, signed in, with its bank account (so that payments are executed)."""
    info = make_account(libeo_app, name="Boulangerie Martin SARL", plan=Plan.PARTNERSHIPS, debtor_iban=DEBTOR_IBAN)
    libeo_auth.login(info.email)
    return info


def test_the_whole_life_pay_execute_download_transmit_accepted_then_debited_and_rejected(
        apps, client, libeo_app, company):
    first = _new_invoice(client, "F-PAYEE", "Minoterie Dupuis", valid_iban(11))
    second = _new_invoice(client, "F-REJETEE", "Laiterie des Prés", valid_iban(12))
    _pay(client, first)
    _pay(client, second)
    paid_id, rejected_id = _payment_ids(libeo_app)
    pages = ("/libeo/factures/", "/libeo/paiements/", f"/libeo/factures/{first}", f"/libeo/paiements/{paid_id}")

    output = _execute(apps)
    assert "2 virement(s)" in output and "fichier prêt, à télécharger dans « Remises »" in output
    for page in pages:
        shown = text(client.get(page))
        assert FILE_READY in shown, page  # a file written, nothing sent yet
        states = _badges(shown)
        assert not any(word in state for state in states for word in ("Débité", "Remis à la banque", "Transmis")), page

    remittances = text(client.get("/libeo/remises/"))
    assert ">Remises</a>" in remittances  # in the navigation
    assert "2 469,12" in remittances.replace("\u202f", " ")  # the file's total
    assert FILE_READY in remittances and "Transmis à la banque</button>" in remittances
    assert "Importer un relevé de la banque" in remittances
    pain001 = _download(client)

    transmitted = _transmit(client)
    assert "transmise à la banque : 2 virements en attente de sa réponse" in transmitted
    assert f"Transmis à la banque le {TODAY} : 2 virements en attente de la banque" in transmitted
    for page in pages:
        assert f"Transmis à la banque le {TODAY}" in text(client.get(page)), page

    accepted = text(_upload(client, status_report_for(pain001, default="ACCP")))
    assert "2 paiements acceptés par la banque" in accepted
    for page in pages:
        shown = text(client.get(page))
        assert f"Accepté par la banque le {TODAY} (ACCP)" in shown, page
        assert not any("Débité" in state for state in _badges(shown)), page  # intermediate: the money has not left

    report = status_report_for(pain001, {f"LIBEO-{rejected_id}": ("RJCT", "AC04")})
    imported = text(_upload(client, report))
    assert "Relevé de statut (pain.002) PSR-" in imported and "pour la remise LBO-" in imported
    assert "1 paiement débité, 1 paiement rejeté" in imported
    assert "Traitée : 1 débité, 1 rejeté" in imported

    # The same words everywhere: lists, invoice pages, payment pages, API; the bank's date.
    debited = f"Débité le {TODAY}"  # the report's day: the bank's, not before the execution date
    for page in pages:
        assert debited in text(client.get(page)), page
    for page in ("/libeo/factures/", "/libeo/paiements/", f"/libeo/factures/{second}",
                 f"/libeo/paiements/{rejected_id}"):
        assert CLOSED_ACCOUNT in text(client.get(page)), page
    api = Api(client, make_key(libeo_app, company.id))
    paid = api.get(f"/payments/{paid_id}").json
    assert (paid["status"], paid["status_label"], paid["paid_on"]) == ("paid", debited, paris_today().isoformat())
    assert paid["paid_at"] is not None and paid["transmitted_at"] is not None
    rejected = api.get(f"/payments/{rejected_id}").json
    assert (rejected["status"], rejected["failure_reason"], rejected["failure_code"]) == (
        "failed", CLOSED_ACCOUNT, "AC04")
    assert rejected["new_iban_required"] is True
    # A paid invoice cannot be paid again; one rejected for a closed account waits for the new IBAN.
    assert "Payer par virement" not in text(client.get(f"/libeo/factures/{first}"))
    assert "Demandez à Laiterie des Prés son nouvel IBAN" in text(client.get(f"/libeo/paiements/{rejected_id}"))


def test_importing_the_same_report_twice_changes_nothing_and_says_so(apps, client, libeo_app, company):
    _pay(client, _new_invoice(client, "F-1"))
    _execute(apps)
    report = status_report_for(_download(client))
    assert "1 paiement débité" in text(_upload(client, report))
    events = _event_count(libeo_app)

    again = text(_upload(client, report))
    assert "déjà importé le" in again and "aucun paiement n'a changé" in again
    assert _event_count(libeo_app) == events
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count(BankStatusImport.id))) == 1


def test_a_later_report_never_moves_a_final_state_back(apps, client, libeo_app, company):
    _pay(client, _new_invoice(client, "F-1", iban=valid_iban(21)))
    _pay(client, _new_invoice(client, "F-2", iban=valid_iban(22)))
    first_id, second_id = _payment_ids(libeo_app)
    _execute(apps)
    pain001 = _download(client)
    # The bank first accepts the file technically, then settles one and rejects the other.
    technical = text(_upload(client, status_report_for(pain001, default="ACTC")))
    assert "2 paiements acceptés par la banque" in technical
    settled = text(_upload(client, status_report_for(pain001, {f"LIBEO-{second_id}": ("RJCT", "AM04")})))
    assert "1 paiement débité, 1 paiement rejeté" in settled
    # A third report contradicting what is settled changes nothing, and asks a person.
    events = _event_count(libeo_app)
    late = text(_upload(client, status_report_for(pain001, default="RJCT")))
    assert "aucun paiement n'a changé" in late and "1 anomalie à vérifier" in late
    assert "À vérifier : 1 anomalie" in late and "Libeo le garde débité jusqu'à votre décision" in late
    assert _event_count(libeo_app) == events + 1  # one, to tell the anomaly beside the state kept
    assert f"Débité le {TODAY}" in text(client.get(f"/libeo/paiements/{first_id}"))
    assert "Rejeté : provision insuffisante (AM04)" in text(client.get(f"/libeo/paiements/{second_id}"))
    # An older intermediate report arriving last is older news.
    old = text(_upload(client, status_report_for(pain001, default="ACCP")))
    assert "aucun paiement n'a changé" in old and "anomalie à vérifier dans « Remises »" not in old
    assert "À vérifier : 1 anomalie" in old  # still the one, not another
    assert _event_count(libeo_app) == events + 1


def test_mark_as_debited_asks_for_the_debit_date_then_decides_once(apps, client, libeo_app, company):
    invoice_id = _new_invoice(client, "F-1")
    _pay(client, invoice_id)
    [payment_id] = _payment_ids(libeo_app)
    assert "Marquer comme débité" not in text(client.get(f"/libeo/paiements/{payment_id}"))  # not in a file yet
    _execute(apps)
    batch_page = text(client.get(re.search(r'href="(/libeo/remises/\d+)"', text(client.get("/libeo/remises/")))
                                 .group(1)))
    assert f'href="/libeo/paiements/{payment_id}/debite"' in batch_page

    confirmation = text(client.get(f"/libeo/paiements/{payment_id}/debite"))
    assert "Confirmez que ce virement apparaît comme débité" in confirmation
    assert "Date du débit sur votre relevé" in confirmation
    assert "Confirmer : le virement est débité" in confirmation
    assert FILE_READY in text(client.get(f"/libeo/paiements/{payment_id}"))  # a GET changes nothing

    too_early = RUN_DAY - timedelta(days=1)
    refused = client.post(f"/libeo/paiements/{payment_id}/debite", data={"debit_date": too_early.isoformat()})
    assert refused.status_code == 422
    run_day = f"{RUN_DAY:%d/%m/%Y}"
    assert f"Le {too_early:%d/%m/%Y} est avant la date d'exécution demandée à la banque ({run_day})" in text(refused)
    tomorrow = paris_today() + timedelta(days=1)
    future = client.post(f"/libeo/paiements/{payment_id}/debite", data={"debit_date": tomorrow.isoformat()})
    assert future.status_code == 422 and "est dans le futur" in text(future)

    done = text(client.post(f"/libeo/paiements/{payment_id}/debite", data={"debit_date": RUN_DAY.isoformat()},
                            follow_redirects=True))
    assert f"est marqué comme débité : Débité le {run_day}" in done
    assert f"marqué comme débité par {company.email}" in done
    assert f"Débité le {run_day}" in text(client.get("/libeo/factures/"))
    assert f"marqué comme débité le {run_day}" in text(client.get("/libeo/journal/"))  # journaled
    events = _event_count(libeo_app)
    again = text(client.post(f"/libeo/paiements/{payment_id}/debite", data={"debit_date": RUN_DAY.isoformat()},
                             follow_redirects=True))
    assert f"Ce paiement n'est plus en attente de la banque (Débité le {run_day})" in again
    assert _event_count(libeo_app) == events
    assert "ne peut pas être marqué comme débité" in text(client.get(f"/libeo/paiements/{payment_id}/debite"))


def test_the_command_line_imports_a_report(apps, client, libeo_app, company, tmp_path):
    _pay(client, _new_invoice(client, "F-CLI"))
    [payment_id] = _payment_ids(libeo_app)
    _execute(apps)
    report = tmp_path / "pain002.xml"
    report.write_bytes(status_report_for(_download(client), {f"LIBEO-{payment_id}": ("RJCT", "AC04")}))
    runner = apps.root.test_cli_runner()

    result = runner.invoke(args=["libeo", "import-bank-status", str(report)])
    assert result.exit_code == 0, result.output
    assert "Boulangerie Martin SARL : Relevé de statut (pain.002) PSR-" in result.output
    assert "pour la remise LBO-" in result.output and "importé : 1 paiement rejeté" in result.output
    assert f"Facture F-CLI (1\u202f234,56\u00a0€) : {CLOSED_ACCOUNT}" in result.output
    assert CLOSED_ACCOUNT in text(client.get("/libeo/paiements/"))

    again = runner.invoke(args=["libeo", "import-bank-status", str(report)])
    assert again.exit_code == 0 and "déjà importé le" in again.output


@pytest.mark.parametrize(
    "content, message",
    [
        (b"<pas du xml", "Ce fichier n'est pas un fichier XML lisible"),
        (b"", "Le fichier est vide."),
        (None, "Le fichier"),  # missing: see below
    ],
)
def test_the_command_line_refuses_a_bad_file_in_french(apps, tmp_path, content, message):
    path = tmp_path / "releve.xml"
    if content is not None:
        path.write_bytes(content)
    result = apps.root.test_cli_runner().invoke(args=["libeo", "import-bank-status", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("Erreur : ") and message in result.output
    assert "Error" not in result.output and "Traceback" not in result.output


def test_the_command_line_refuses_a_report_of_no_known_file(apps, client, libeo_app, company, tmp_path):
    _pay(client, _new_invoice(client, "F-1"))
    _execute(apps)
    pain001 = _download(client).replace(b"<MsgId>", b"<MsgId>X")  # another file's id
    path = tmp_path / "releve.xml"
    path.write_bytes(status_report_for(pain001))
    result = apps.root.test_cli_runner().invoke(args=["libeo", "import-bank-status", str(path)])
    assert result.exit_code == 1
    assert "qu'aucune remise de Libeo ne porte" in result.output


def test_another_accounts_report_or_file_is_refused_and_changes_nothing(apps, client, libeo_app, libeo_auth, company):
    _pay(client, _new_invoice(client, "F-SECRETE"))
    _execute(apps)
    pain001 = _download(client)
    batch_link = re.search(r'href="(/libeo/remises/\d+)"', text(client.get("/libeo/remises/"))).group(1)
    report = status_report_for(pain001)
    libeo_auth.logout()

    other = make_account(libeo_app, name="Garage Leroy SAS", debtor_iban=valid_iban(99))
    libeo_auth.login(other.email)
    events = _event_count(libeo_app)
    refused = _upload(client, report)
    assert refused.status_code == 422
    assert "qui n'est pas une remise de votre compte" in text(refused)
    assert _event_count(libeo_app) == events
    assert client.get(batch_link).status_code == 404
    assert client.get(batch_link + "/fichier").status_code == 404
    assert "F-SECRETE" not in text(client.get("/libeo/remises/"))
    with libeo_app.app_context():
        assert db.session.scalar(select(Payment.status)).value == "file_ready"
        assert db.session.scalar(select(func.count(BankStatusImport.id))) == 0


@pytest.mark.parametrize(
    "content, message",
    [
        (b"<Document>pas fini", "Ce fichier n'est pas un fichier XML lisible"),
        (b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>',
         "Ce fichier est un ordre de virement (pain.001.001.03)"),
        (b"\x89PNG\r\n\x1a\n", "Ce fichier n'est pas un fichier XML lisible"),
    ],
)
def test_a_bad_upload_gets_a_french_message(client, company, content, message):
    refused = _upload(client, content)
    assert refused.status_code == 422
    assert message in text(refused)


def test_an_upload_without_a_file_is_refused(client, company):
    refused = client.post("/libeo/remises/releve", data={}, content_type="multipart/form-data")
    assert refused.status_code == 422
    assert "Choisissez le fichier du relevé envoyé par la banque." in text(refused)


def test_remises_pages_need_a_signed_in_user(client):
    for path in ("/libeo/remises/", "/libeo/remises/1", "/libeo/remises/1/fichier", "/libeo/paiements/1",
                 "/libeo/paiements/1/debite"):
        response = client.get(path)
        assert response.status_code == 302 and "/libeo/connexion" in response.headers["Location"], path


# Cancelling.


def test_cancel_returns_to_a_french_page_under_libeo(client, libeo_app, company):
    invoice_id = _new_invoice(client, "F-ANNULEE")
    _pay(client, invoice_id)
    [payment_id] = _payment_ids(libeo_app)
    listing = text(client.get("/libeo/paiements/"))
    # « Annuler » asks first, on a page that knows where the person came from.
    ask = re.search(r'href="(/libeo/paiements/\d+/annuler\?next=[^"]+)"', listing).group(1)
    confirmation = text(client.get(ask.replace("&amp;", "&")))
    assert "Annuler ce paiement ?" in confirmation and "Oui, annuler le paiement" in confirmation
    back = re.search(r'name="next" value="([^"]+)"', confirmation).group(1)
    assert back == "/libeo/paiements/"

    answer = client.post(f"/libeo/paiements/{payment_id}/annuler", data={"next": back})
    assert answer.status_code == 302 and answer.headers["Location"] == "/libeo/paiements/"
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200
    assert "Le paiement de la facture F-ANNULEE est annulé." in text(page) and "Annulé" in text(page)
    # From the invoice page, back to the invoice page; without « next », to the payment's page.
    _pay(client, invoice_id)
    second = _payment_ids(libeo_app)[-1]
    from_invoice = re.search(r'annuler\?next=([^"]+)"', text(client.get(f"/libeo/factures/{invoice_id}")))
    assert from_invoice.group(1) == f"/libeo/factures/{invoice_id}"
    plain = client.post(f"/libeo/paiements/{second}/annuler")
    assert plain.headers["Location"] == f"/libeo/paiements/{second}"
    assert "Annulé" in text(client.get(plain.headers["Location"]))
    assert "À payer" in text(client.get("/libeo/factures/"))


def test_a_payment_at_the_bank_cannot_be_cancelled(apps, client, libeo_app, company):
    _pay(client, _new_invoice(client, "F-1"))
    [payment_id] = _payment_ids(libeo_app)
    _execute(apps)
    refused = text(client.post(f"/libeo/paiements/{payment_id}/annuler", follow_redirects=True))
    assert "Ce paiement ne peut plus être annulé" in refused
    assert FILE_READY in refused


def test_a_cancelled_payment_frees_its_slot_in_the_quota(client, libeo_app, libeo_auth):
    info = make_account(libeo_app)  # « Gratuit »: 5 payments a month
    libeo_auth.login(info.email)
    api = Api(client, make_key(libeo_app, info.id))
    for n in range(7):
        assert api.put_invoice(f"meg-{n}", n=n).status_code == 201
    created = [api.pay(f"meg-{n}", key=f"k{n}").json for n in range(5)]
    assert api.pay("meg-5", key="k5").status_code == 402
    assert api.get("/me").json["payments_this_month"] == 5

    client.post(f"/libeo/paiements/{created[0]['id']}/annuler")
    assert api.get("/me").json["payments_this_month"] == 4
    assert "4 / 5 paiements ce mois-ci" in text(client.get("/libeo/factures/"))
    assert api.pay("meg-5", key="k5-bis").status_code == 201  # the 6th asked for, the 5th that counts
    seventh = api.pay("meg-6", key="k6")
    assert seventh.status_code == 402 and seventh.json["error"]["code"] == "quota_exceeded"
    # Cancelling the same payment again gives nothing back twice.
    client.post(f"/libeo/paiements/{created[0]['id']}/annuler")
    assert api.get("/me").json["payments_this_month"] == 5


# Concurrency: every change decides once.


def _together(apps, count: int, call):
    barrier = threading.Barrier(count)

    def worker(i):
        client = apps.root.test_client()
        barrier.wait()
        return call(client, i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(worker, range(count)))


def test_concurrent_imports_and_clicks_decide_once(apps, client, libeo_app, company):
    for n in range(3):
        _pay(client, _new_invoice(client, f"F-{n}", iban=valid_iban(40 + n)))
    ids = _payment_ids(libeo_app)
    _execute(apps)
    report = status_report_for(_download(client), {f"LIBEO-{ids[2]}": ("RJCT", "AC04")})
    cookie = client.get_cookie("libeo_session", path="/libeo")
    events = _event_count(libeo_app)
    debit_day = RUN_DAY.isoformat()

    def act(other, i):
        other.set_cookie("libeo_session", cookie.value, path="/libeo")
        if i % 2:
            return other.post(f"/libeo/paiements/{ids[0]}/debite", data={"debit_date": debit_day}).status_code
        return _upload(other, report).status_code

    statuses = _together(apps, 8, act)
    assert set(statuses) <= {200, 302}, statuses
    # Three payments changed state once each: three events, one import.
    assert _event_count(libeo_app) == events + 3
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count(BankStatusImport.id))) == 1
        states = [p.status.value for p in db.session.scalars(select(Payment).order_by(Payment.id))]
    assert states == ["paid", "paid", "failed"]


def test_a_file_of_release_1_is_served_from_the_export_folder_if_intact(apps, client, libeo_app, company):
    from models.libeo import SepaBatch

    _pay(client, _new_invoice(client, "F-1"))
    _execute(apps)
    with libeo_app.app_context():
        batch = db.session.scalar(select(SepaBatch))
        batch.xml = None  # release 1 kept the file on disk only
        db.session.commit()
        batch_id, copy = batch.id, Path(libeo_app.config["SEPA_EXPORT_DIR"]) / batch.file_name
    assert client.get(f"/libeo/remises/{batch_id}/fichier").data == copy.read_bytes()
    copy.write_bytes(copy.read_bytes().replace(b"F-1", b"F-9"))  # not the file that was sent
    refused = client.get(f"/libeo/remises/{batch_id}/fichier")
    assert refused.status_code == 404
    assert "Le fichier de cette remise n'est pas disponible." in text(refused)


def test_remises_pages_run_a_constant_number_of_queries(apps, client, libeo_app, company):
    def batch_of(count: int) -> str:
        for n in range(count):
            _pay(client, _new_invoice(client, f"F-{count}-{n}", iban=valid_iban(500 + n)))
        _execute(apps)
        return re.search(r'href="(/libeo/remises/\d+)"', text(client.get("/libeo/remises/"))).group(1)

    small = batch_of(1)
    few = [count_queries(libeo_app, client, p) for p in ("/libeo/remises/", small, "/libeo/paiements/")]
    large = batch_of(12)
    many = [count_queries(libeo_app, client, p) for p in ("/libeo/remises/", large, "/libeo/paiements/")]
    assert few == many


def _badges(shown: str) -> list[str]:
    """The states a page shows (its badges), not the labels of the lists' state tabs (« Débités (0) »)."""
    return re.findall(r'<(?:span|a) class="badge[^"]*"[^>]*>([^<]*)<', shown)


@pytest.mark.parametrize("asked", ["bytes=999999999-", "bytes=0-9", "x"])
def test_a_range_header_gets_the_whole_remittance_file(apps, client, libeo_app, company, asked):
    """The file is the bank's whole pain.001: a slice of it, or werkzeug's English 416 page, is never the answer."""
    _pay(client, _new_invoice(client, "F-1"))
    _execute(apps)
    whole = _download(client)
    link = re.search(r'href="(/libeo/remises/\d+/fichier)"', text(client.get("/libeo/remises/"))).group(1)
    answer = client.get(link, headers={"Range": asked})
    assert answer.status_code == 200 and answer.data == whole
    assert "Content-Range" not in answer.headers and "no-store" in answer.headers["Cache-Control"]


def _padded(report: bytes, size: int) -> bytes:
    """The same report, made ``size`` bytes long by a comment after it (a month of statements is that long)."""
    return report + b"\n<!--" + b" " * (size - len(report) - 9) + b"-->\n"


def test_a_statement_above_1_mb_and_up_to_5_mb_is_imported_from_the_page(apps, client, libeo_app, company):
    """The page takes what the command line takes: a statement of up to 5 Mo, not the other forms' 1 Mo."""
    _pay(client, _new_invoice(client, "F-1"))
    _execute(apps)
    report = _padded(status_report_for(_download(client)), 2 * 1024 * 1024)
    imported = _upload(client, report)
    assert imported.status_code == 200
    assert "1 paiement débité" in text(imported)


def test_a_statement_above_5_mb_is_refused_on_the_remittances_page_and_changes_nothing(apps, client, libeo_app,
                                                                                      company):
    _pay(client, _new_invoice(client, "F-1"))
    _execute(apps)
    report = _padded(status_report_for(_download(client)), 6 * 1024 * 1024)
    events = _event_count(libeo_app)

    refused = client.post("/libeo/remises/releve", data={"report": (BytesIO(report), "releve.xml")},
                          content_type="multipart/form-data")

    assert refused.status_code == 413
    page = text(refused)
    assert "Le fichier est trop volumineux : un relevé de la banque fait au plus 5 Mo." in page
    assert "Importer un relevé de la banque" in page and "LBO-" in page  # the page: its form and its files
    assert "Les données envoyées sont trop volumineuses" not in page and "Request Entity Too Large" not in page
    assert _event_count(libeo_app) == events
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count(BankStatusImport.id))) == 0
    # Signed out: the sign-in page, as for any page of « Remises ».
    anonymous = apps.root.test_client().post("/libeo/remises/releve", data={"report": (BytesIO(report), "r.xml")},
                                             content_type="multipart/form-data")
    assert anonymous.status_code == 302 and "/libeo/connexion" in anonymous.headers["Location"]
    # The address the refused import stays on, opened again: the form on its page, not « action pas permise ».
    again = client.get("/libeo/remises/releve")
    assert again.status_code == 302 and again.headers["Location"].endswith("/libeo/remises/#releve")
