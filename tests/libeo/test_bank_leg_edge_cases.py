"""The bank leg at its edges: what the SEPA file carries, and what the bank's files (pain.002, camt.053/054) make
of the payments when they say less, or more, than a plain answer does.

Every bank file is real-shaped and valid against its official XSD: written by devtools.bank_simulator from the
very pain.001 Libeo made, sometimes edited as a bank writes it, and imported through « Remises ». Each outcome is
read where a person reads it: the payment (API, as MEG reads it), its page, « Remises » and the import's message.
"""

from __future__ import annotations

import re
from datetime import date
from io import BytesIO

import pytest
from lxml import etree
from sqlalchemy import select

from core.calendar import previous_business_day
from core.dates import paris_today
from core.sepa_text import SEPA_CHARACTERS
from devtools.bank_simulator import OtherEntry, statement_for, status_report_for
from models.libeo import Plan, SepaBatch, db
from models.libeo.payments.bank_statement import KINDS
from models.libeo.payments.bank_status import XSD_PATH as PAIN002_XSD
from models.libeo.payments.sepa import execute_due_payments
from tests.helpers import text

from .conftest import (
    DEBTOR_IBAN,
    Api,
    LibeoAuth,
    backdate_due_payments,
    make_account,
    make_key,
    valid_iban,
)

PAIN001 = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


def dated_constants() -> dict:
    """Computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    run_day = previous_business_day(paris_today())
    return {"RUN_DAY": run_day, "SHOWN_RUN_DAY": f"{run_day:%d/%m/%Y}"}


RUN_DAY, SHOWN_RUN_DAY = dated_constants().values()


class Desk:
    """An account paying invoices sent by MEG, its SEPA files, and the bank's files imported on « Remises »."""

    def __init__(self, client, libeo_app, libeo_auth) -> None:
        self.client, self.app = client, libeo_app
        self.info = make_account(libeo_app, name="Boulangerie Martin SARL", plan=Plan.PARTNERSHIPS,
                                 debtor_iban=DEBTOR_IBAN)
        self.api = Api(client, make_key(libeo_app, self.info.id))
        self._n = 0
        libeo_auth.login(self.info.email)

    def pay(self, *, amount_cents: int = 10_000, iban: str | None = None, name: str | None = None,
            number: str | None = None, issue_date: str | None = None) -> int:
        n = self._n = self._n + 1
        body = {"number": number or f"F-{n}",
                "supplier": {"name": name or f"Fournisseur {n}", "iban": iban or valid_iban(800 + n)},
                "amount_cents": amount_cents, "currency": "EUR",
                "issue_date": issue_date or "2026-10-01", "due_date": "2026-10-31"}
        assert self.api.put(f"/invoices/meg-{n}", json=body).status_code in (200, 201)
        answer = self.api.pay(f"meg-{n}", key=f"key-{n}")
        assert answer.status_code == 201, answer.json
        assert answer.json["status"] == "scheduled", answer.json
        return answer.json["id"]

    def execute(self, day: date | None = None) -> bytes:
        """The due payments in one SEPA file, executed on ``day`` (RUN_DAY unless said); that file (pain.001)."""
        day = day or RUN_DAY
        backdate_due_payments(self.app, day)
        with self.app.app_context():
            execute_due_payments(None, day)
            return db.session.scalar(select(SepaBatch.xml).order_by(SepaBatch.id.desc()))

    def upload(self, content: bytes) -> str:
        """The file imported on « Remises »: what the page then says of it (its message)."""
        response = self.client.post("/libeo/remises/releve", data={"report": (BytesIO(content), "releve.xml")},
                                    content_type="multipart/form-data", follow_redirects=True)
        page = text(response)
        said = " ".join(re.findall(r'<div class="flash[^"]*"[^>]*>(.*?)</div>', page, re.S))
        errors = " ".join(re.findall(r'class="error[^"]*"[^>]*>(.*?)<', page, re.S))
        assert response.status_code == 200, errors or said
        return " ".join(said.split())

    def payment(self, payment_id: int) -> dict:
        return self.api.get(f"/payments/{payment_id}").json

    def page(self, payment_id: int) -> str:
        return " ".join(text(self.client.get(f"/libeo/paiements/{payment_id}")).split())

    def remittances(self) -> str:
        return " ".join(text(self.client.get("/libeo/remises/")).split())

    def last_event(self, payment_id: int) -> dict:
        """The payment as MEG last read it in Libeo's events feed."""
        events = self.api.get("/events").json["events"]
        return [e["data"] for e in events if e["data"]["id"] == payment_id][-1]


@pytest.fixture
def desk(client, libeo_app) -> Desk:
    return Desk(client, libeo_app, LibeoAuth(client))


def _valid(content: bytes, kind: str = "camt.054") -> bytes:
    """``content`` once checked against its official XSD (a test's edit must keep the file a bank's)."""
    namespace = next(ns for ns, (k, *_rest) in KINDS.items() if k == kind)
    schema = etree.XMLSchema(etree.parse(str(KINDS[namespace][1])))
    schema.assertValid(etree.fromstring(content))
    return content


def _transmitted(label: str) -> bool:
    return label == f"Transmis à la banque le {paris_today():%d/%m/%Y}"


# --- the SEPA file ---------------------------------------------------------------------------------------


def test_remittance_information_is_written_in_the_sepa_character_set(desk):
    """Names are sent in the EPC's basic Latin set (core/sepa_text.py); the « Ustrd » (« Facture <number> »)
    is written the same way: « _ # & ; * ° » and the like never reach the bank, which may refuse them."""
    payment_id = desk.pay(number="F_2026#12 & Co; n°7*")
    symbols_only = desk.pay(number="#*#")
    pain001 = desk.execute()
    root = etree.fromstring(pain001)
    remittances = {tx.findtext("p:PmtId/p:EndToEndId", namespaces=PAIN001): tx.findtext("p:RmtInf/p:Ustrd",
                                                                                          namespaces=PAIN001)
                   for tx in root.iterfind(".//p:CdtTrfTxInf", PAIN001)}
    remittance = remittances[f"LIBEO-{payment_id}"]
    assert remittance is not None and desk.payment(payment_id)["status"] == "file_ready"
    outside = sorted(set(remittance) - SEPA_CHARACTERS)
    assert not outside, f"Ustrd {remittance!r} carries characters outside the SEPA set: {outside}"
    assert remittance == "Facture F-2026 12 + Co n 7"  # as a name is written: « & » as « + », « _ » as « - »
    # A number that keeps nothing once so written: the transfer's own reference says which it is.
    assert remittances[f"LIBEO-{symbols_only}"] == f"Facture LIBEO-{symbols_only}"


# --- statements (camt.053 / camt.054) ---------------------------------------------------------------------


def test_a_card_payment_of_the_same_amount_is_not_taken_for_the_transfer(desk):
    """A debit with no reference and no payee IBAN (here a card payment, CCRD/POSD) is not matched by its
    amount and date alone: the transfer is not « Débité », it waits for the bank or a person."""
    payment_id = desk.pay(amount_cents=4_210)
    pain001 = desk.execute()
    statement = _valid(statement_for(pain001, debited=[], others=[OtherEntry("42.10")], booking_date=RUN_DAY))
    assert b"<EndToEndId>" not in statement and b"<IBAN>" + valid_iban(801).encode() not in statement
    shown = desk.upload(statement)
    assert desk.payment(payment_id)["status"] == "file_ready"
    assert "aucun paiement n'a changé" in shown and "anomalie" not in shown, shown
    assert "Fichier prêt — à transmettre à votre banque" in desk.page(payment_id)


def test_a_batch_debit_whose_transfers_carry_no_amount_is_checked_against_its_total(desk):
    """One batch entry listing each transfer (TxDtls with its EndToEndId) without per-transfer amounts: its
    amount is compared with their total, and an entry of 160,00 € never « debits » 200,00 € of transfers."""
    ids = [desk.pay(amount_cents=cents) for cents in (10_000, 6_000, 4_000)]
    pain001 = desk.execute()
    statement = statement_for(pain001, batch_booking=True, booking_date=RUN_DAY)
    statement = re.sub(rb"<AmtDtls>.*?</AmtDtls>", b"", statement, flags=re.S)  # AmtDtls is optional
    assert statement.count(b">200.00<") == 2  # the entry's Amt and the batch's TtlAmt
    statement = _valid(statement.replace(b">200.00<", b">160.00<"))
    assert statement.count(b"<EndToEndId>") == 3
    shown = desk.upload(statement)
    assert {desk.payment(i)["status"] for i in ids} == {"transmitted"}, shown  # none debited, the file received
    assert "1 anomalie à vérifier" in shown and "La banque a reçu la remise LBO-" in shown, shown
    anomaly = "montre un débit de 160,00 € le " + SHOWN_RUN_DAY + " pour 3 virements"
    assert anomaly in desk.remittances() and "alors qu'ils font 200,00 €" in desk.remittances()
    assert anomaly in desk.page(ids[1])  # each payment the debit names tells it


def test_a_batch_debit_whose_transfers_carry_no_amount_but_add_up_debits_them(desk):
    ids = [desk.pay(amount_cents=cents) for cents in (10_000, 6_000, 4_000)]
    pain001 = desk.execute()
    statement = statement_for(pain001, batch_booking=True, booking_date=RUN_DAY)
    shown = desk.upload(_valid(re.sub(rb"<AmtDtls>.*?</AmtDtls>", b"", statement, flags=re.S)))
    assert "3 paiements débités" in shown and "anomalie" not in shown, shown
    assert {desk.payment(i)["status_label"] for i in ids} == {f"Débité le {SHOWN_RUN_DAY}"}


def _same_booking(statement: bytes) -> bytes:
    """The bank's references of the entry, fixed: the same booking, told by two files."""
    statement = re.sub(rb"<NtryRef>[^<]*</NtryRef>", b"<NtryRef>E0001</NtryRef>", statement)
    return re.sub(rb"<AcctSvcrRef>[^<]*</AcctSvcrRef>", b"<AcctSvcrRef>BQ-20261204-0001</AcctSvcrRef>", statement)


def _without_references(statement: bytes) -> bytes:
    statement = re.sub(rb"\s*<NtryRef>[^<]*</NtryRef>", b"", statement)
    return re.sub(rb"\s*<AcctSvcrRef>[^<]*</AcctSvcrRef>", b"", statement)


@pytest.mark.parametrize("references", [_same_booking, _without_references], ids=["by-reference", "no-reference"])
def test_the_same_booking_told_by_the_notification_and_the_statement_debits_one_transfer_only(desk, references):
    """A French bank notifies a debit (camt.054) and lists it again in the day's statement (camt.053), with the
    same booking reference (AcctSvcrRef), or none. A debit without EndToEndId is matched by amount, date and
    IBAN: the second file must not give the same booking to another transfer of the same amount to the same
    supplier."""
    supplier = {"iban": valid_iban(4321), "name": "Minoterie Dupuis"}
    first = desk.pay(amount_cents=25_000, issue_date="2026-10-01", **supplier)
    pain001 = desk.execute()
    debit = OtherEntry("250.00", creditor_iban=supplier["iban"], creditor_name=supplier["name"])
    notification = _valid(references(statement_for(pain001, debited=[], others=[debit], booking_date=RUN_DAY,
                                                   message_id="CAMT054-NOTIF-1")))
    assert "1 paiement débité" in desk.upload(notification)
    assert desk.payment(first)["status"] == "paid"

    # Later that day, another invoice of the same supplier and amount goes in a second file.
    second = desk.pay(amount_cents=25_000, issue_date="2026-10-20", **supplier)
    desk.execute()
    assert desk.payment(second)["status"] == "file_ready"
    day_statement = _valid(references(statement_for(pain001, kind="camt.053", debited=[], others=[debit],
                                                    booking_date=RUN_DAY, message_id="CAMT053-JOUR-1")),
                           "camt.053")
    shown = desk.upload(day_statement)
    assert desk.payment(second)["status"] == "file_ready"  # the bank debited one transfer, once
    assert "aucun paiement n'a changé" in shown and "1 écriture de ce relevé avait déjà été lue" in shown, shown
    assert desk.payment(first)["status_label"] == f"Débité le {SHOWN_RUN_DAY}"


def test_a_reversed_batch_debit_is_not_silently_ignored(desk):
    """The file booked as one debit (Btch, no TxDtls) is marked « Débité »; the bank then reverses that very
    booking (CRDT, RvslInd true, same Btch): each payment of the file gets an anomaly a person resolves, as a
    reversed single transfer's does (bank_leg._contradiction)."""
    ids = [desk.pay(amount_cents=cents) for cents in (10_000, 5_000)]
    pain001 = desk.execute()
    booked = statement_for(pain001, batch_booking=True, with_details=False, booking_date=RUN_DAY,
                           message_id="CAMT054-DEBIT-1")
    assert "2 paiements débités" in desk.upload(_valid(booked))
    assert {desk.payment(i)["status"] for i in ids} == {"paid"}
    reversal = booked.replace(b"<MsgId>CAMT054-DEBIT-1</MsgId>", b"<MsgId>CAMT054-REVERSAL-1</MsgId>")
    # The entry's own CdtDbtInd (the batch's, inside Btch, is left as it was): a credit reversing the debit.
    reversal = re.sub(rb"<CdtDbtInd>DBIT</CdtDbtInd>(\s*)<Sts>",
                      rb"<CdtDbtInd>CRDT</CdtDbtInd>\1<RvslInd>true</RvslInd>\1<Sts>", reversal)
    assert reversal.count(b"<RvslInd>true</RvslInd>") == 1
    shown = desk.upload(_valid(reversal))
    assert "2 anomalies à vérifier" in shown, shown  # one for each payment of the file
    assert {desk.payment(i)["status"] for i in ids} == {"paid"}  # kept until a person decides
    said = "annulé par la banque le " + SHOWN_RUN_DAY
    assert said in desk.page(ids[0]) and said in desk.remittances()

    remittances = text(desk.client.get("/libeo/remises/"))
    assert "La banque a raison : passer en « Rejeté »" in remittances
    action = re.search(r'action="(/libeo/remises/anomalies/\d+)"', remittances).group(1)
    done = text(desk.client.post(action, data={"decision": "apply"}, follow_redirects=True))
    assert "passé de débité à « Rejeté : débit de la remise LBO-" in done
    assert [desk.payment(i)["status"] for i in ids] == ["failed", "paid"]


# --- status reports (pain.002) ----------------------------------------------------------------------------


def test_a_partly_accepted_file_without_detail_does_not_say_every_transfer_accepted(desk):
    """GrpSts PART with no transfer listed (here with its counts: two accepted, one rejected): Libeo cannot
    tell which transfer was refused, so none reads « Accepté par la banque »: the file has reached the bank."""
    ids = [desk.pay(amount_cents=10_000 + n) for n in range(3)]
    pain001 = desk.execute()
    report = status_report_for(pain001, group_status="PART")
    counts = (b"<GrpSts>PART</GrpSts>"
              b"<NbOfTxsPerSts><DtldNbOfTxs>2</DtldNbOfTxs><DtldSts>ACCP</DtldSts></NbOfTxsPerSts>"
              b"<NbOfTxsPerSts><DtldNbOfTxs>1</DtldNbOfTxs><DtldSts>RJCT</DtldSts></NbOfTxsPerSts>")
    report = report.replace(b"<GrpSts>PART</GrpSts>", counts)
    assert b"<TxInfAndSts>" not in report and b"<OrgnlPmtInfAndSts>" not in report
    shown = desk.upload(report)
    labels = [desk.payment(i)["status_label"] for i in ids]
    assert not any(label.startswith("Accepté par la banque") for label in labels), labels
    assert all(_transmitted(label) for label in labels), labels
    assert "sans dire quels virements" in shown and "2 acceptés (ACCP), 1 rejeté (RJCT)" in shown, shown
    assert "1 anomalie à vérifier" in shown
    assert "indique 1 virement rejeté dans la remise" in desk.page(ids[2])
    assert desk.last_event(ids[0])["status_label"] == labels[0]  # what MEG reads


def test_a_rejection_of_a_transfer_libeo_cannot_identify_is_not_dropped(desk):
    """A report listing only its rejections (PART) names a transfer by an OrgnlEndToEndId Libeo never wrote:
    the rejection is kept as an anomaly naming it, and no transfer of the file reads « Accepté »."""
    ids = [desk.pay(amount_cents=10_000 + n) for n in range(2)]
    pain001 = desk.execute()
    report = status_report_for(pain001, {f"LIBEO-{ids[0]}": ("RJCT", "AC04")}, only_exceptions=True)
    report = report.replace(f"<OrgnlEndToEndId>LIBEO-{ids[0]}<".encode(), b"<OrgnlEndToEndId>LIBEO-999999<")
    assert b"LIBEO-999999" in report
    shown = desk.upload(report)
    assert "anomalie à vérifier" in shown or "LIBEO-999999" in shown, shown
    assert "1 anomalie à vérifier" in shown
    labels = [desk.payment(i)["status_label"] for i in ids]
    assert all(_transmitted(label) for label in labels), labels
    said = "rejette un virement « LIBEO-999999 » (« Rejeté : compte du bénéficiaire clôturé (AC04) »)"
    assert said in desk.remittances() and said in desk.page(ids[1])


# --- what the screens say -----------------------------------------------------------------------------------


def test_a_file_the_bank_answered_for_no_longer_asks_to_be_transmitted(desk):
    """The bank's report names the file and rejects one transfer (it lists only that one, with no status for
    the file or its block): the bank has the file. The other transfer and the file read « Transmis à la
    banque », never « Fichier prêt — à transmettre à votre banque », on every page and in MEG's feed."""
    rejected, other = desk.pay(amount_cents=10_000), desk.pay(amount_cents=12_000)
    pain001 = desk.execute()
    report = status_report_for(pain001, {f"LIBEO-{rejected}": ("RJCT", "AC01")}, only_exceptions=True)
    report = re.sub(rb"\s*<(GrpSts|PmtInfSts)>[A-Z]{4}</(GrpSts|PmtInfSts)>", b"", report)
    assert b"<GrpSts>" not in report and b"<PmtInfSts>" not in report
    shown = desk.upload(report)
    assert desk.payment(rejected)["status"] == "failed", shown
    assert desk.payment(other)["status_label"] != "Fichier prêt — à transmettre à votre banque"
    assert _transmitted(desk.payment(other)["status_label"]), desk.payment(other)
    assert "La banque a reçu la remise LBO-" in shown, shown
    remittances = text(desk.client.get("/libeo/remises/"))
    status = re.search(r'data-testid="batch-status">([^<]*)<', remittances).group(1)
    assert "à transmettre à votre banque" not in status, status
    assert status.endswith(": 1 virement en attente de la banque"), status
    assert "/transmise" not in remittances  # no « Transmis à la banque » to click for it
    page = desk.page(other)
    assert "Transmettre le fichier à votre banque" not in page and "(par le relevé de statut (pain.002) PSR-" in page
    assert _transmitted(desk.last_event(other)["status_label"])  # MEG reads the same words


def _entry_with_transaction_amount_in(statement: bytes, entry_amount: str, currency: str) -> bytes:
    """The statement's one entry debiting ``entry_amount`` euros, its transaction's own amount (the transfer's
    figures) said in ``currency``."""
    root = etree.fromstring(statement)
    ns = {"c": root.nsmap[None]}
    (entry,) = root.findall(".//c:Ntry", ns)
    entry.find("c:Amt", ns).text = entry_amount
    entry.find(".//c:TxDtls/c:AmtDtls/c:TxAmt/c:Amt", ns).set("Ccy", currency)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_a_transactions_amount_in_another_currency_is_not_the_transfers_amount(desk):
    """A euro entry of 93.00 whose transaction says « 100.00 USD » did not debit the 100.00 € sent: the account
    lost 93.00 €. The import tells it as an amount to check, not « Débité »."""
    first = desk.pay(amount_cents=10_000)
    statement = statement_for(desk.execute(), kind="camt.053", booking_date=RUN_DAY)
    shown = desk.upload(_valid(_entry_with_transaction_amount_in(statement, "93.00", "USD"), "camt.053"))
    assert desk.payment(first)["status"] != "paid", shown
    assert "1 anomalie à vérifier" in shown, shown
    assert "débité de 93,00 € le " + SHOWN_RUN_DAY in desk.page(first)


def test_a_transactions_amount_in_euros_is_the_transfers_amount(desk):
    first = desk.pay(amount_cents=10_000)
    statement = statement_for(desk.execute(), kind="camt.053", booking_date=RUN_DAY)
    desk.upload(_valid(_entry_with_transaction_amount_in(statement, "100.00", "EUR"), "camt.053"))
    assert desk.payment(first)["status"] == "paid"


def _block_status_for_another_block(pain001: bytes, status: str, reason: str | None = None) -> bytes:
    """The bank's report naming the file, with no status for the whole file and one block that lists no
    transfer: the block's status ``status`` given to a payment block « …-9 » the file does not contain (its
    PmtInfId ends « -1 »)."""
    report = status_report_for(pain001, only_exceptions=True)
    root = etree.fromstring(report)
    ns = {"s": root.nsmap[None]}
    group = root.find(".//s:OrgnlGrpInfAndSts", ns)
    group.remove(group.find("s:GrpSts", ns))
    (block,) = root.findall(".//s:OrgnlPmtInfAndSts", ns)
    assert block.find("s:TxInfAndSts", ns) is None
    named = block.find("s:OrgnlPmtInfId", ns)
    assert named.text.endswith("-1")
    named.text = named.text[:-1] + "9"
    block_status = block.find("s:PmtInfSts", ns)
    block_status.text = status
    if reason:
        info = etree.Element(f"{{{ns['s']}}}StsRsnInf")
        etree.SubElement(etree.SubElement(info, f"{{{ns['s']}}}Rsn"), f"{{{ns['s']}}}Cd").text = reason
        block_status.addnext(info)
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    schema = etree.XMLSchema(etree.parse(str(PAIN002_XSD)))
    schema.assertValid(etree.fromstring(content))
    return content


def test_a_rejection_of_a_payment_block_the_file_does_not_contain_rejects_none_of_its_transfers(desk):
    """The report names the file but rejects a payment block « LBO-…-9 » (Libeo writes one, « …-1 »): that
    status is not the file's transfers'. They stay « Transmis à la banque » — never « Rejeté », which would let
    the invoice be paid again while the bank may pay it — and the rejection is kept for a person to check."""
    ids = [desk.pay(amount_cents=10_000 + n) for n in range(2)]
    shown = desk.upload(_block_status_for_another_block(desk.execute(), "RJCT", "AM04"))
    labels = [desk.payment(i)["status_label"] for i in ids]
    assert all(_transmitted(label) for label in labels), (labels, shown)
    assert "1 anomalie à vérifier" in shown, shown
    said = "rejette un lot de virements « LBO-"
    assert said in desk.remittances() and said in desk.page(ids[0])
    assert "que la remise LBO-" in desk.remittances()
    assert _transmitted(desk.last_event(ids[1])["status_label"])  # MEG reads the same


def test_a_settlement_of_a_payment_block_the_file_does_not_contain_debits_none_of_its_transfers(desk):
    ids = [desk.pay(amount_cents=10_000 + n) for n in range(2)]
    shown = desk.upload(_block_status_for_another_block(desk.execute(), "ACSC"))
    assert all(_transmitted(desk.payment(i)["status_label"]) for i in ids), shown
    assert "1 anomalie à vérifier" in shown, shown
    assert "donne le statut ACSC à un lot de virements « LBO-" in desk.remittances()


# --- every list says what waits for a person -------------------------------------------------------------------


def test_a_payment_with_an_anomaly_to_check_says_so_in_every_list_until_it_is_resolved(desk):
    """An anomaly shows on the payment's page and « Remises »; the rows of « Paiements », of the invoice and of
    the remittance say « Anomalie à vérifier » too, and the menu counts it on « Remises », until a person
    decides."""
    first = desk.pay(amount_cents=10_000)
    statement = statement_for(desk.execute(), kind="camt.053", booking_date=RUN_DAY)
    desk.upload(_valid(_entry_with_transaction_amount_in(statement, "93.00", "USD"), "camt.053"))
    other = desk.pay(amount_cents=20_000)

    def flagged(path: str) -> list[str]:
        html = desk.client.get(path).get_data(as_text=True)
        return re.findall(r'href="/libeo/paiements/(\d+)#anomalies" data-testid="payment-to-check"', html)

    def counted() -> str | None:
        html = desk.client.get("/libeo/paiements/").get_data(as_text=True)
        found = re.search(r'data-testid="anomalies-count" aria-label="([^"]+)">1<', html)
        return found.group(1) if found else None

    assert flagged("/libeo/paiements/") == [str(first)]
    invoice = re.search(r'href="/libeo/factures/(\d+)"',
                        desk.client.get(f"/libeo/paiements/{first}").get_data(as_text=True)).group(1)
    assert flagged(f"/libeo/factures/{invoice}") == [str(first)]
    batch = re.search(r'href="/libeo/remises/(\d+)"', desk.client.get("/libeo/remises/").get_data(as_text=True))
    assert flagged(f"/libeo/remises/{batch.group(1)}") == [str(first)]
    assert counted() == "1 anomalie à vérifier"
    assert 'id="anomalies"' in desk.client.get(f"/libeo/paiements/{first}").get_data(as_text=True)
    assert str(other) not in flagged("/libeo/paiements/")

    remittances = desk.client.get("/libeo/remises/").get_data(as_text=True)
    anomaly = re.search(r'action="/libeo/remises/anomalies/(\d+)"', remittances).group(1)
    decided = desk.client.post(f"/libeo/remises/anomalies/{anomaly}", data={"decision": "keep"},
                               follow_redirects=True)
    assert decided.status_code == 200
    assert flagged("/libeo/paiements/") == [] and counted() is None


def test_a_debit_of_another_amount_is_the_transfers_once_a_person_says_so(desk):
    """The bank debited 93,00 € for a 100,00 € transfer: after checking with the bank, the person says it is that
    transfer, and it reads « Débité » on the statement's date, the decision journaled."""
    first = desk.pay(amount_cents=10_000)
    statement = statement_for(desk.execute(), kind="camt.053", booking_date=RUN_DAY)
    desk.upload(_valid(_entry_with_transaction_amount_in(statement, "93.00", "USD"), "camt.053"))
    remittances = desk.remittances()
    assert f"C'est bien ce virement : passer en « Débité le {SHOWN_RUN_DAY} »" in remittances
    anomaly = re.search(r'action="/libeo/remises/anomalies/(\d+)"',
                        desk.client.get("/libeo/remises/").get_data(as_text=True)).group(1)
    decided = " ".join(text(desk.client.post(f"/libeo/remises/anomalies/{anomaly}", data={"decision": "apply"},
                                             follow_redirects=True)).split())
    assert f"Débit du {SHOWN_RUN_DAY} (93,00 €) retenu pour le paiement de la facture F-1" in decided, decided
    assert desk.payment(first)["status"] == "paid"
    assert desk.payment(first)["status_label"] == f"Débité le {SHOWN_RUN_DAY}"
    assert "À vérifier" not in desk.remittances()
    assert desk.last_event(first)["status"] == "paid"  # what MEG reads
