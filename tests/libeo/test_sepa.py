"""Executing due payments: one valid pain.001.001.03 file per account and batch; its payments « Fichier prêt »."""

from __future__ import annotations

import hashlib
import os
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sepaxml
import xmlschema
from sqlalchemy import select

from core.calendar import next_business_day
from core.dates import paris_today
from models.libeo import Account, Invoice, Payment, PaymentStatus, Plan, SepaBatch, db
from models.libeo.payments.sepa import execute_due_payments

from .conftest import (
    DEBTOR_IBAN,
    SUPPLIER_IBAN,
    Api,
    make_account,
    make_key,
    pay_body,
    valid_iban,
)

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
XSD = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
# Invoices here are past due: their payments are proposed for the next business day.
def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    return {"TODAY": next_business_day(paris_today())}


(TODAY,) = dated_constants().values()


def _account_with_invoices(client, libeo_app, *, debtor_iban=DEBTOR_IBAN, invoices=3, name="Boulangerie Martin SARL"):
    info = make_account(libeo_app, name=name, plan=Plan.PARTNERSHIPS, debtor_iban=debtor_iban)
    api = Api(client, make_key(libeo_app, info.id))
    for n in range(invoices):
        supplier = {"name": f"Fournisseur Élégant {n}", "iban": valid_iban(100 + n)}
        if n == 0:
            supplier["bic"] = "AGRIFRPP"
        body = {"number": f"F-{n}", "supplier": supplier, "amount_cents": 10_000 + n * 1_234, "currency": "EUR",
                "issue_date": "2026-10-01", "due_date": "2026-10-31"}
        assert api.put(f"/invoices/meg-{n}", json=body).status_code == 201
    return info, api


def _execute(libeo_app, day: date = TODAY):
    with libeo_app.app_context():
        return execute_due_payments(libeo_app.config["SEPA_EXPORT_DIR"], day)


def test_due_payments_become_one_valid_sepa_file(client, libeo_app):
    info, api = _account_with_invoices(client, libeo_app)
    paid = [api.pay(f"meg-{n}", key=f"k{n}").json for n in range(2)]
    later_day = next_business_day(TODAY + timedelta(days=3))
    later = api.pay("meg-2", key="k2", body=pay_body(execution_date=later_day.isoformat())).json

    report = _execute(libeo_app)

    assert len(report.batches) == 1
    batch = report.batches[0]
    assert (batch.status, batch.payment_count, batch.total_cents) == ("sent", 2, 10_000 + 11_234)
    path = Path(batch.file_path)
    assert path.parent == Path(libeo_app.config["SEPA_EXPORT_DIR"])
    xml = path.read_bytes()
    xmlschema.XMLSchema(str(XSD)).validate(xml.decode())  # valid against the official XSD
    root = ET.fromstring(xml)
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "212.34"
    info_block = root.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert info_block.findtext("p:Dbtr/p:Nm", namespaces=NS) == "Boulangerie Martin SARL"
    assert info_block.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == DEBTOR_IBAN
    assert info_block.findtext("p:ReqdExctnDt", namespaces=NS) == TODAY.isoformat()
    transfers = {
        tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS): tx for tx in info_block.findall("p:CdtTrfTxInf", NS)
    }
    assert set(transfers) == {f"LIBEO-{p['id']}" for p in paid}
    first = transfers[f"LIBEO-{paid[0]['id']}"]
    assert first.findtext("p:Amt/p:InstdAmt", namespaces=NS) == "100.00"
    assert first.find("p:Amt/p:InstdAmt", NS).get("Ccy") == "EUR"
    assert first.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == valid_iban(100)
    assert first.findtext("p:CdtrAgt/p:FinInstnId/p:BIC", namespaces=NS) == "AGRIFRPP"
    assert first.findtext("p:Cdtr/p:Nm", namespaces=NS) == "Fournisseur Elegant 0"
    assert first.findtext("p:RmtInf/p:Ustrd", namespaces=NS) == "Facture F-0"
    assert transfers[f"LIBEO-{paid[1]['id']}"].findtext("p:Amt/p:InstdAmt", namespaces=NS) == "112.34"

    # A file written, nothing sent: the person transmits it, and only the bank's answer says more.
    in_file = [api.get(f"/payments/{p['id']}").json for p in paid]
    assert [(p["status"], p["status_label"]) for p in in_file] == [
        ("file_ready", "Fichier prêt — à transmettre à votre banque")] * 2
    assert api.get(f"/payments/{later['id']}").json["status"] == "scheduled"
    with libeo_app.app_context():
        record = db.session.scalar(select(SepaBatch))
        assert record.xml == xml  # the database keeps the file itself
        assert record.file_name == path.name
        assert record.file_sha256 == hashlib.sha256(xml).hexdigest()
        assert record.message_id == root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces=NS)
        assert record.account_id == info.id
        statuses = dict(db.session.execute(select(Invoice.external_id, Invoice.status)).all())
        assert {k: v.value for k, v in statuses.items()} == {
            "meg-0": "payment_scheduled", "meg-1": "payment_scheduled", "meg-2": "payment_scheduled"}

    assert _execute(libeo_app).batches == []  # nothing twice
    assert len(os.listdir(libeo_app.config["SEPA_EXPORT_DIR"])) == 1
    day_after = _execute(libeo_app, later_day)
    assert [b.payment_count for b in day_after.batches] == [1]


def test_one_file_per_account(client, libeo_app):
    _, first = _account_with_invoices(client, libeo_app, invoices=1, name="Boulangerie Martin SARL")
    _, second = _account_with_invoices(client, libeo_app, invoices=1, name="Garage Leroy SAS",
                                       debtor_iban=valid_iban(555))
    first.pay("meg-0")
    second.pay("meg-0")
    report = _execute(libeo_app)
    assert sorted(b.account_name for b in report.batches) == ["Boulangerie Martin SARL", "Garage Leroy SAS"]
    debtors = {
        ET.parse(b.file_path).getroot().findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) for b in report.batches
    }
    assert debtors == {DEBTOR_IBAN, valid_iban(555)}


def test_without_a_bank_account_payments_wait(client, libeo_app):
    _, api = _account_with_invoices(client, libeo_app, debtor_iban=None, invoices=1)
    payment = api.pay("meg-0").json
    report = _execute(libeo_app)
    assert report.batches == []
    assert report.waiting_for_iban == [("Boulangerie Martin SARL", 1)]
    assert api.get(f"/payments/{payment['id']}").json["status"] == "scheduled"


def test_a_transfer_the_xsd_refuses_fails_alone(client, libeo_app):
    _, api = _account_with_invoices(client, libeo_app, invoices=2)
    bad = {"number": "F-9", "supplier": {"name": "Fournisseur Ancien", "iban": SUPPLIER_IBAN}, "amount_cents": 500,
           "currency": "EUR", "issue_date": "2026-10-01", "due_date": "2026-10-31"}
    api.put("/invoices/meg-9", json=bad)
    good = api.pay("meg-0", key="a").json
    refused = api.pay("meg-9", key="b").json
    with libeo_app.app_context():
        # A name stored before names were checked at entry (an emoji is refused there now): nothing
        # the bank can read is left of it, and the XSD refuses an empty name.
        db.session.get(Payment, refused["id"]).creditor_name = "😀"
        db.session.commit()
    report = _execute(libeo_app)
    assert [(b.payment_count, b.failed_payments) for b in report.batches] == [(1, 1)]
    assert api.get(f"/payments/{good['id']}").json["status"] == "file_ready"
    failed = api.get(f"/payments/{refused['id']}").json
    assert failed["status"] == "failed"
    assert failed["status_label"] == failed["failure_reason"]
    assert failed["failure_reason"].startswith("Rejeté : virement impossible à mettre au format SEPA")
    with libeo_app.app_context():
        invoice = db.session.scalar(select(Invoice).where(Invoice.external_id == "meg-9"))
        assert invoice.status.value == "payment_failed"
        assert db.session.get(Payment, refused["id"]).batch_id is None  # not in the file
    # A failed payment frees the invoice: it can be paid again once corrected.
    assert api.pay("meg-9", key="c").status_code == 201


def test_a_batch_release_1_left_half_done_is_completed_by_the_next_run(client, libeo_app):
    info, api = _account_with_invoices(client, libeo_app, invoices=1)
    payment = api.pay("meg-0").json
    with libeo_app.app_context():
        # What a run of release 1 that stopped after claiming left behind.
        batch = SepaBatch(account_id=info.id, reference="LBO-1-20261130-CRASHED", status="preparing",
                          execution_date=TODAY)
        db.session.add(batch)
        db.session.flush()
        claimed = db.session.get(Payment, payment["id"])
        claimed.status, claimed.batch_id = PaymentStatus.FILE_READY, batch.id
        db.session.commit()
    report = _execute(libeo_app)
    assert [(b.reference, b.payment_count) for b in report.batches] == [("LBO-1-20261130-CRASHED", 1)]
    assert api.get(f"/payments/{payment['id']}").json["status"] == "file_ready"
    with libeo_app.app_context():
        done = db.session.scalar(select(SepaBatch))
        assert done.status == "sent" and done.xml is not None


def test_without_an_export_folder_the_file_is_still_kept(client, libeo_app):
    _, api = _account_with_invoices(client, libeo_app, invoices=1)
    api.pay("meg-0")
    with libeo_app.app_context():
        report = execute_due_payments(None, TODAY)
        assert [(b.payment_count, b.file_path) for b in report.batches] == [(1, None)]
        xmlschema.XMLSchema(str(XSD)).validate(db.session.scalar(select(SepaBatch)).xml.decode())


def test_cli_execute_payments_and_set_plan(apps, client, libeo_app):
    info, api = _account_with_invoices(client, libeo_app, invoices=1)
    api.pay("meg-0")
    runner = apps.root.test_cli_runner()
    result = runner.invoke(args=["libeo", "execute-payments", "--date", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert "Boulangerie Martin SARL : remise LBO-" in result.output
    assert (f"1 virement(s), 100,00\u00a0€, exécution le {TODAY:%d/%m/%Y} : fichier prêt, à télécharger dans "
            "« Remises » et à transmettre à la banque →") in result.output
    assert "Aucun paiement à exécuter." in runner.invoke(args=["libeo", "execute-payments"]).output

    result = runner.invoke(args=["libeo", "set-plan", "--siret", info.siret, "--plan", "gratuit"])
    assert result.exit_code == 0, result.output
    with libeo_app.app_context():
        assert db.session.get(Account, info.id).plan is Plan.GRATUIT
    unknown = runner.invoke(args=["libeo", "set-plan", "--siret", "83451234500002", "--plan", "partnerships"])
    assert unknown.exit_code != 0 and "Aucun compte Libeo pour ce SIRET" in unknown.output


@pytest.mark.parametrize("when", ["2026-13-01", "demain"])
def test_cli_refuses_a_bad_date(apps, when):
    result = apps.root.test_cli_runner().invoke(args=["libeo", "execute-payments", "--date", when])
    assert result.exit_code != 0


def test_a_run_on_a_closing_day_asks_the_bank_for_the_next_business_day(client, libeo_app):
    _, api = _account_with_invoices(client, libeo_app, invoices=1)
    api.pay("meg-0")
    saturday = TODAY + timedelta(days=(5 - TODAY.weekday()) % 7)
    report = _execute(libeo_app, saturday)
    requested = ET.parse(report.batches[0].file_path).getroot().findtext(".//p:ReqdExctnDt", namespaces=NS)
    assert requested == next_business_day(saturday).isoformat() != saturday.isoformat()


# Identifiers, the debtor's bank, and one execution date.


def _file_of(libeo_app, reference: str | None = None):
    with libeo_app.app_context():
        query = select(SepaBatch).order_by(SepaBatch.id.desc())
        if reference:
            query = query.where(SepaBatch.reference == reference)
        batch = db.session.scalar(query)
        return batch.message_id, ET.fromstring(batch.xml)


def test_the_msgid_reads_the_hour_on_a_24_hour_clock_and_never_repeats(client, libeo_app):
    """Release 2's MsgId read « 20261204011302 » for a file made at 13:13:02 (sepaxml's 12-hour clock)."""
    _, api = _account_with_invoices(client, libeo_app, invoices=3)
    afternoon = datetime(2026, 12, 4, 12, 13, 2, tzinfo=UTC)  # 13:13:02 in Paris
    night = afternoon - timedelta(hours=12)  # 01:13:02 in Paris, the same twelve-hour reading
    api.pay("meg-0", key="a")
    with libeo_app.app_context():
        first = execute_due_payments(None, TODAY, now=afternoon).batches[0]
    api.pay("meg-1", key="b")
    with libeo_app.app_context():
        second = execute_due_payments(None, TODAY, now=night).batches[0]
    api.pay("meg-2", key="c")
    with libeo_app.app_context():
        third = execute_due_payments(None, TODAY, now=afternoon).batches[0]  # the very same second again

    ids = []
    for result, clock in ((first, "20261204131302"), (second, "20261204011302"), (third, "20261204131302")):
        message_id, root = _file_of(libeo_app, result.reference)
        assert re.fullmatch(rf"LBO-{clock}-\d+", message_id), message_id
        assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces=NS) == message_id
        assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CreDtTm", namespaces=NS).startswith(
            f"2026-12-04T{clock[8:10]}:13:02")
        assert root.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:PmtInfId", namespaces=NS) == f"{message_id}-1"
        xmlschema.XMLSchema(str(XSD)).validate(ET.tostring(root).decode())
        ids.append(message_id)
    assert len(set(ids)) == 3 and all(len(i) <= 35 for i in ids)


def test_a_debtor_account_without_a_bic_names_its_bank_notprovided(client, libeo_app):
    info, api = _account_with_invoices(client, libeo_app, invoices=1)
    api.pay("meg-0")
    _execute(libeo_app)
    _, root = _file_of(libeo_app)
    agent = root.find("p:CstmrCdtTrfInitn/p:PmtInf/p:DbtrAgt/p:FinInstnId", NS)
    assert agent.findtext("p:Othr/p:Id", namespaces=NS) == "NOTPROVIDED"  # never an empty element
    assert agent.find("p:BIC", NS) is None
    xmlschema.XMLSchema(str(XSD)).validate(ET.tostring(root).decode())

    with libeo_app.app_context():
        db.session.get(Account, info.id).debtor_bic = "BNPAFRPP"
        db.session.commit()
    api.put("/invoices/meg-1", json={"number": "F-1", "supplier": {"name": "Fournisseur Élégant 0",
            "iban": valid_iban(100)}, "amount_cents": 777, "currency": "EUR", "issue_date": "2026-10-02",
            "due_date": "2026-10-31"})
    api.pay("meg-1", key="again")
    _execute(libeo_app)
    _, root = _file_of(libeo_app)
    assert root.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:DbtrAgt/p:FinInstnId/p:BIC", namespaces=NS) == "BNPAFRPP"


def test_a_payment_executed_later_than_planned_takes_the_files_date_and_says_so(client, libeo_app):
    """Release 2: approved for 07/12, in a file dated 14/12, « Exécution 07/12 » in lists, 14/12 in the file."""
    _, api = _account_with_invoices(client, libeo_app, invoices=1)
    planned = next_business_day(TODAY + timedelta(days=1))
    payment = api.pay("meg-0", body=pay_body(execution_date=planned.isoformat())).json
    run_day = next_business_day(planned + timedelta(days=5))  # the run comes a week late
    result = _execute(libeo_app, run_day).batches[0]
    assert (result.postponed, result.execution_date) == (1, run_day)

    _, root = _file_of(libeo_app)
    assert root.findtext(".//p:ReqdExctnDt", namespaces=NS) == run_day.isoformat()
    shown = api.get(f"/payments/{payment['id']}").json
    assert shown["execution_date"] == run_day.isoformat()  # one date: the file's, everywhere
    with libeo_app.app_context():
        found = db.session.get(Payment, payment["id"])
        assert (found.execution_date, found.planned_execution_date) == (run_day, planned)
