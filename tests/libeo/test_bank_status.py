"""The bank's answer to a SEPA file: pain.002.001.03 read safely, and what it means for each transfer."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import hypothesis.strategies as st
import pytest
import xmlschema
from hypothesis import given, settings
from sqlalchemy import func, select

from devtools import bank_simulator
from devtools.bank_simulator import status_report_for
from models.libeo import Account, Invoice, Payment, Plan, SepaBatch, db
from models.libeo.payments.bank_status import (
    MAX_REPORT_BYTES,
    XSD_PATH,
    BankStatusError,
    StatusReport,
    failure_reason,
    outcome,
    outcomes_for,
    read_status_report,
    reason_text,
)
from models.libeo.payments.reason_codes import ACCOUNT_REASONS, REASON_TEXTS
from models.libeo.payments.sepa import execute_due_payments, pain001_file

from .conftest import DEBTOR_IBAN, Api, make_account, make_key, valid_iban

FAST = settings(max_examples=200, deadline=None, database=None)
E2E = ["LIBEO-101", "LIBEO-102", "LIBEO-103"]


def _pain001_file(payment_ids=(101, 102, 103)) -> bytes:
    """A pain.001.001.03 as Libeo's own generator writes it (entities built in memory, no database)."""
    account = Account(name="Boulangerie Martin SARL", debtor_iban=DEBTOR_IBAN)
    batch = SepaBatch(account=account, execution_date=date(2026, 11, 30), reference="LBO-20261130091502-7",
                      message_id="LBO-20261130091502-7", payment_info_id="LBO-20261130091502-7-1",
                      debtor_iban=DEBTOR_IBAN)
    payments = [
        Payment(id=n, creditor_name=f"Fournisseur {n}", creditor_iban=valid_iban(n), amount_cents=10_000 + n,
                currency="EUR", invoice=Invoice(number=f"F-{n}"))
        for n in payment_ids
    ]
    return pain001_file(batch, payments, datetime(2026, 11, 30, 8, 15, 2, tzinfo=ZoneInfo("UTC")))


def _message_id(pain001: bytes) -> str:
    return re.search(rb"<MsgId>([^<]+)</MsgId>", pain001).group(1).decode()


@pytest.fixture(scope="module")
def pain001() -> bytes:
    return _pain001_file()


# --- a report answering a real SEPA file ------------------------------------------------------


def test_the_simulated_answer_is_valid_against_the_official_xsd(pain001):
    report = status_report_for(pain001, {"LIBEO-102": ("RJCT", "AC04")})
    xmlschema.XMLSchema(str(XSD_PATH)).validate(report.decode())  # a second validator than the reader's


def test_every_transfer_debited(pain001):
    report = read_status_report(status_report_for(pain001))

    assert isinstance(report, StatusReport)
    assert report.original_message_id == _message_id(pain001)  # names the SEPA file it answers
    assert report.original_message_type == "pain.001.001.03"
    assert report.message_id.startswith("PSR-")
    assert report.created_at is not None and report.created_at.tzinfo is not None
    assert report.group_status == "ACSC"
    assert [(t.end_to_end_id, t.status, t.reason_code) for t in report.transactions] == [
        (e2e, "ACSC", None) for e2e in E2E]
    assert report.end_to_end_ids == frozenset(E2E)
    assert {e2e: o.outcome for e2e, o in outcomes_for(report, E2E).items()} == dict.fromkeys(E2E, "paid")


def test_a_rejected_transfer_fails_with_its_reason_in_french(pain001):
    report = read_status_report(status_report_for(pain001, {"LIBEO-102": ("RJCT", "AC04")}))

    assert report.group_status == "PART"
    rejected = next(t for t in report.transactions if t.end_to_end_id == "LIBEO-102")
    assert (rejected.status, rejected.reason_code) == ("RJCT", "AC04")
    outcomes = outcomes_for(report, E2E)
    assert outcomes["LIBEO-102"].outcome == "failed"
    assert outcomes["LIBEO-102"].failure_reason == "Rejeté : compte du bénéficiaire clôturé (AC04)"
    assert [outcomes[e].outcome for e in ("LIBEO-101", "LIBEO-103")] == ["paid", "paid"]
    assert outcomes["LIBEO-101"].failure_reason is None


def test_a_whole_file_rejection_fails_every_transfer(pain001):
    report = read_status_report(status_report_for(pain001, group_status="RJCT", group_reason="FF01"))

    assert (report.group_status, report.group_reason_code) == ("RJCT", "FF01")
    assert report.transactions == ()
    outcomes = outcomes_for(report, E2E)
    assert {o.outcome for o in outcomes.values()} == {"failed"}
    assert outcomes["LIBEO-103"].failure_reason == "Rejeté : format de fichier invalide ou incomplet (FF01)"


def test_a_whole_file_rejection_without_a_reason(pain001):
    outcomes = outcomes_for(read_status_report(status_report_for(pain001, group_status="RJCT")), E2E)
    assert {o.failure_reason for o in outcomes.values()} == {"Rejeté par la banque"}


def test_a_bank_that_lists_only_the_rejections(pain001):
    raw = status_report_for(pain001, {"LIBEO-101": ("RJCT", "AM04")}, only_exceptions=True)
    report = read_status_report(raw)

    assert [t.end_to_end_id for t in report.transactions] == ["LIBEO-101"]
    outcomes = outcomes_for(report, E2E)
    assert outcomes["LIBEO-101"].failure_reason == "Rejeté : provision insuffisante (AM04)"
    # PART: the others are accepted, not said to be settled.
    assert [outcomes[e].outcome for e in ("LIBEO-102", "LIBEO-103")] == ["accepted", "accepted"]


def test_only_the_files_own_block_stands_for_the_transfers_it_does_not_list(pain001):
    """A block status stands for the unlisted transfers only under the file's block's name (OrgnlPmtInfId);
    beside a rejected block of another name, the file's own accepted block does not say they were accepted."""
    own = re.search(rb"<PmtInfId>([^<]+)</PmtInfId>", pain001).group(1).decode()
    accepted = status_report_for(pain001, default="ACCP", only_exceptions=True)
    report = read_status_report(accepted)
    assert {o.outcome for o in outcomes_for(report, E2E, own).values()} == {"accepted"}
    assert {o.outcome for o in outcomes_for(report, E2E, own + "-9").values()} == {"accepted"}  # the file's GrpSts
    block = re.search(rb"<OrgnlPmtInfAndSts>.*?</OrgnlPmtInfAndSts>", accepted, re.S).group(0)
    foreign = block.replace(f"<OrgnlPmtInfId>{own}<".encode(), f"<OrgnlPmtInfId>{own}-9<".encode()).replace(
        b"<PmtInfSts>ACCP<", b"<PmtInfSts>RJCT<")
    both = read_status_report(accepted.replace(block, block + foreign))
    assert {o.outcome for o in outcomes_for(both, E2E, own).values()} == {"pending"}
    assert {o.outcome for o in outcomes_for(both, E2E).values()} == {"accepted"}  # no block kept: the file's


def test_intermediate_statuses_are_accepted_never_paid(pain001):
    """Release 2 read ACCP as paid: the money has not left until ACSC (or a statement's booking)."""
    for status in ("RCVD", "ACTC", "ACCP", "ACSP", "ACWC", "PDNG"):
        report = read_status_report(status_report_for(pain001, group_status=status)) if status == "RCVD" else \
            read_status_report(status_report_for(pain001, default=status))
        assert {o.outcome for o in outcomes_for(report, E2E).values()} == {"accepted"}, status

    pending = read_status_report(status_report_for(pain001, {"LIBEO-101": ("PDNG", None)}, default="ACSC"))
    outcomes = outcomes_for(pending, E2E)
    assert [outcomes[e].outcome for e in E2E] == ["accepted", "paid", "paid"]
    assert outcomes["LIBEO-101"].status == "PDNG"


def test_the_transaction_status_wins_over_the_group_status(pain001):
    raw = status_report_for(pain001, {"LIBEO-102": ("RJCT", "DT01")}, default="ACCP", group_status="RJCT",
                            group_reason="FF01")
    outcomes = outcomes_for(read_status_report(raw), E2E)
    assert [outcomes[e].outcome for e in E2E] == ["accepted", "failed", "accepted"]
    assert outcomes["LIBEO-102"].failure_reason == "Rejeté : date invalide (DT01)"


def test_the_banks_words_split_over_several_addtlinf_are_joined_as_written(pain001):
    words = ("Compte du bénéficiaire clôturé le 30/11/2026 à la demande de son titulaire ; merci de contacter "
             "votre fournisseur pour obtenir ses nouvelles coordonnées bancaires avant tout nouvel envoi.")
    assert len(words) > 105
    raw = status_report_for(pain001, {"LIBEO-102": ("RJCT", "AC04")}, texts={"LIBEO-102": words})
    assert raw.count(b"<AddtlInf>") == 2  # cut at 105 characters, mid-word, as banks do
    decided = outcomes_for(read_status_report(raw), E2E)["LIBEO-102"]
    assert decided.bank_text == words
    assert decided.reason_code == "AC04"
    assert decided.failure_reason == "Rejeté : compte du bénéficiaire clôturé (AC04)"  # the bank's words beside it

    # Two short remarks are two sentences: joined with a space, neither dropped.
    two = raw.decode()
    start = two.index("<AddtlInf>")
    end = two.index("</StsRsnInf>", start)
    two = two[:start] + "<AddtlInf>Compte clos.</AddtlInf><AddtlInf>Contactez le bénéficiaire.</AddtlInf>\n" + \
        two[end:]
    assert outcomes_for(read_status_report(two.encode()), E2E)["LIBEO-102"].bank_text == (
        "Compte clos. Contactez le bénéficiaire.")


def test_an_acceptance_time_given_with_the_status_is_kept(pain001):
    raw = status_report_for(pain001, default="ACSC", accepted_at=datetime(2026, 12, 14, 7, 30, tzinfo=ZoneInfo("UTC")))
    decided = outcomes_for(read_status_report(raw), E2E)["LIBEO-101"]
    assert decided.accepted_at == datetime(2026, 12, 14, 7, 30, tzinfo=ZoneInfo("UTC"))


def test_a_transfer_reported_both_settled_and_rejected_is_contradictory(pain001):
    raw = status_report_for(pain001, {"LIBEO-101": ("RJCT", "AC01")}).decode()
    accepted = re.search(r"<TxInfAndSts>\s*<OrgnlEndToEndId>LIBEO-103</OrgnlEndToEndId>.*?</TxInfAndSts>", raw, re.S)
    duplicate = accepted.group(0).replace("LIBEO-103", "LIBEO-101")
    raw = raw.replace(accepted.group(0), accepted.group(0) + duplicate)

    outcomes = outcomes_for(read_status_report(raw.encode()), E2E)
    both = outcomes["LIBEO-101"]
    assert (both.outcome, both.status, both.reason_code) == ("contradictory", "ACSC", "AC01")
    assert both.failure_reason.startswith("Rejeté : ") and both.failure_reason.endswith("(AC01)")
    assert outcomes["LIBEO-103"].outcome == "paid"


@pytest.mark.parametrize("first, then, furthest", [("ACSP", "ACSC", "paid"), ("ACCP", "RJCT", "failed"),
                                                   ("ACSC", "ACCP", "paid")])
def test_a_transfer_listed_with_a_step_and_its_end_takes_its_end(pain001, first, then, furthest):
    raw = status_report_for(pain001, {"LIBEO-101": (first, None)}).decode()
    listed = re.search(r"<TxInfAndSts>\s*<OrgnlEndToEndId>LIBEO-101</OrgnlEndToEndId>.*?</TxInfAndSts>", raw, re.S)
    again = status_report_for(pain001, {"LIBEO-101": (then, "AM04" if then == "RJCT" else None)}).decode()
    later = re.search(r"<TxInfAndSts>\s*<OrgnlEndToEndId>LIBEO-101</OrgnlEndToEndId>.*?</TxInfAndSts>", again, re.S)
    raw = raw.replace(listed.group(0), listed.group(0) + later.group(0))
    assert outcomes_for(read_status_report(raw.encode()), E2E)["LIBEO-101"].outcome == furthest


def test_a_report_time_without_offset_is_paris_time(pain001):
    raw = status_report_for(pain001, created_at=datetime(2026, 11, 30, 9, 15)).decode()
    assert "<CreDtTm>2026-11-30T09:15:00</CreDtTm>" in raw
    created = read_status_report(raw.encode()).created_at
    assert created == datetime(2026, 11, 30, 9, 15, tzinfo=ZoneInfo("Europe/Paris"))


def test_free_texts_and_proprietary_codes_are_kept(pain001):
    raw = status_report_for(pain001, {"LIBEO-101": ("RJCT", "NARR")}).decode()
    narrative = "<AddtlInf>Bénéficiaire inconnu  de nos services</AddtlInf>"
    raw = raw.replace("<Cd>NARR</Cd>\n          </Rsn>", f"<Cd>NARR</Cd>\n          </Rsn>\n          {narrative}")
    report = read_status_report(raw.encode())
    rejected = report.transactions[0]
    assert (rejected.reason_code, rejected.additional_info) == ("NARR", "Bénéficiaire inconnu de nos services")
    assert outcomes_for(report, E2E)["LIBEO-101"].failure_reason == (
        "Rejeté : Bénéficiaire inconnu de nos services (NARR)")

    proprietary = read_status_report(status_report_for(pain001, {"LIBEO-102": ("RJCT", "BANQUE-42")}))
    assert proprietary.transactions[1].reason_code == "BANQUE-42"
    assert outcomes_for(proprietary, E2E)["LIBEO-102"].failure_reason == (
        "Rejeté : motif BANQUE-42 communiqué par la banque")


# --- what a status and a reason mean ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [("ACSC", "paid"), ("ACCC", "paid"), ("ACCP", "accepted"), ("ACSP", "accepted"), ("ACWC", "accepted"),
     ("RJCT", "failed"), ("ACTC", "accepted"), ("PDNG", "accepted"), ("RCVD", "accepted"), ("PART", "pending"),
     (None, "pending")],
)
def test_outcome_of_a_status(status, expected):
    assert outcome(status) == expected


@pytest.mark.parametrize(
    ("code", "text"),
    [("AC01", "Numéro de compte (IBAN) incorrect ou absent"), ("AC04", "Compte du bénéficiaire clôturé"),
     ("AM04", "Provision insuffisante"), ("MS03", "Raison non précisée par la banque"), ("RC01", "BIC incorrect"),
     ("TM01", "Reçu après l'heure limite"), ("am05", "Doublon d'un virement déjà transmis"),
     ("ZZ99", "Motif ZZ99 communiqué par la banque")],
)
def test_reason_texts(code, text):
    assert reason_text(code) == text


def test_the_whole_iso_list_of_status_reasons_has_its_french_text():
    # ExternalStatusReason1Code, every code: a sample across its families, and its size.
    expected = {"AB01", "AB26", "AC01", "AC04", "AC06", "AC16", "AG01", "AG13", "AGNT", "AM04", "AM23", "BE01",
                "BE04", "BE23", "CH03", "CNOR", "CURR", "CUST", "DNOR", "DS0A", "DS28", "DT01", "DT06", "DU01",
                "DUPL", "ED05", "FF01", "FF13", "FOCR", "FRAD", "G000", "G006", "MD07", "MS02", "MS03", "NARR",
                "RC01", "RC16", "RR01", "RR12", "SL01", "SL18", "TK01", "TKXP", "TM01", "TS04", "UCRD", "UPAY"}
    assert expected <= set(REASON_TEXTS)
    assert len(REASON_TEXTS) >= 300
    assert all(text and text == text.strip() and not text.endswith(".") for text in REASON_TEXTS.values())
    assert all(re.fullmatch(r"[A-Z0-9]{4}", code) for code in REASON_TEXTS)
    assert {"AC01", "AC04", "AC06", "AG01", "BE04", "MD07", "RC01"} <= ACCOUNT_REASONS <= set(REASON_TEXTS)
    assert not {"AM04", "DT01", "MS03", "FF01"} & ACCOUNT_REASONS  # the account is fine: retry allowed


def test_failure_reasons_fit_the_payment_column():
    assert failure_reason("AM04") == "Rejeté : provision insuffisante (AM04)"
    assert failure_reason(None) == "Rejeté par la banque"
    assert len(failure_reason("NARR", "x" * 1000)) == 300


# --- files that are not a valid report ---------------------------------------------------------


def test_a_sepa_file_given_instead_of_the_banks_answer(pain001):
    with pytest.raises(BankStatusError) as error:
        read_status_report(pain001)
    assert "ordre de virement (pain.001.001.03)" in error.value.message
    assert "pas le relevé de statut de virements que la banque renvoie (pain.002.001.03)" in error.value.message


@pytest.mark.parametrize(
    ("namespace", "words"),
    [("urn:iso:std:iso:20022:tech:xsd:camt.053.001.02", "relevé de compte (camt.053.001.02)"),
     ("urn:iso:std:iso:20022:tech:xsd:pain.002.001.10", "relevé de statut au format pain.002.001.10"),
     ("urn:example:facture", "n'est pas un relevé de statut de virements de la banque")],
)
def test_other_xml_files_say_what_they_are(namespace, words):
    with pytest.raises(BankStatusError) as error:
        read_status_report(f'<?xml version="1.0"?><Document xmlns="{namespace}"><X/></Document>'.encode())
    assert words in error.value.message


def test_a_report_that_breaks_the_xsd_says_where(pain001):
    raw = status_report_for(pain001, {"LIBEO-102": ("RJCT", "AC04")}).decode()
    line = next(n for n, text in enumerate(raw.splitlines(), 1) if "<TxSts>RJCT</TxSts>" in text)
    with pytest.raises(BankStatusError) as error:
        read_status_report(raw.replace("<TxSts>RJCT</TxSts>", "<TxSts>PAYE</TxSts>").encode())
    message = error.value.message
    assert "ne respecte pas le schéma XSD officiel" in message
    assert f"ligne {line}" in message
    assert "TxSts" in message and "urn:iso" not in message


def test_a_report_answering_a_direct_debit_file_is_refused(pain001):
    raw = status_report_for(pain001).replace(b"<OrgnlMsgNmId>pain.001.001.03<", b"<OrgnlMsgNmId>pain.008.001.02<")
    with pytest.raises(BankStatusError, match="pain.008.001.02, pas à un ordre de virement"):
        read_status_report(raw)


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "Le fichier est vide."), (b"  \n", "Le fichier est vide."),
     (b"%PDF-1.7 not a report", "n'est pas un fichier XML lisible"),
     (b"<Document><unclosed></Document>", "n'est pas un fichier XML lisible (ligne 1)"),
     (b"\xff\xfe\x00\x01garbage", "n'est pas un fichier XML lisible")],
)
def test_not_xml(content, words):
    with pytest.raises(BankStatusError) as error:
        read_status_report(content)
    assert words in error.value.message


def test_too_large_a_file_is_refused_before_parsing():
    content = b"<a>" + b" " * MAX_REPORT_BYTES + b"</a>"
    with pytest.raises(BankStatusError, match=r"trop volumineux \(5,0 Mo\)"):
        read_status_report(content)


def test_a_string_is_not_a_file():
    with pytest.raises(BankStatusError, match="fichier"):
        read_status_report("<Document/>")


# --- hostile XML --------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Document [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">&lol9;</Document>"""


def _with_doctype(report: bytes, doctype: str, entity: str) -> bytes:
    """A valid report with a DTD added and an entity used where the original file's id goes."""
    text = report.decode().replace("<?xml version='1.0' encoding='UTF-8'?>\n", "")
    text = re.sub(r"<OrgnlMsgId>[^<]+</OrgnlMsgId>", f"<OrgnlMsgId>{entity}</OrgnlMsgId>", text)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n{text}'.encode()


@pytest.mark.parametrize(
    ("doctype", "entity"),
    [('<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"),
     ('<!DOCTYPE Document [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/secret">]>', "&xxe;"),
     ('<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/evil.dtd">', "LBO"),
     ('<!DOCTYPE Document [<!ENTITY id "LBO-1">]>', "&id;")],
)
def test_a_report_with_a_doctype_is_refused(pain001, doctype, entity):
    with pytest.raises(BankStatusError) as error:
        read_status_report(_with_doctype(status_report_for(pain001), doctype, entity))
    assert "DOCTYPE" in error.value.message and "root:" not in error.value.message


def test_billion_laughs_is_refused_quickly():
    started = datetime.now()
    with pytest.raises(BankStatusError, match="DOCTYPE"):
        read_status_report(BILLION_LAUGHS)
    assert datetime.now() - started < timedelta(seconds=2)


@FAST
@given(st.binary(max_size=2_000))
def test_random_bytes_only_ever_raise_bank_status_error(content):
    with pytest.raises(BankStatusError):
        read_status_report(content)


_VALID_REPORT = status_report_for(_pain001_file(), {"LIBEO-102": ("RJCT", "AC04")})


@FAST
@given(st.lists(st.tuples(st.integers(0, len(_VALID_REPORT) - 1), st.binary(max_size=8)), min_size=1, max_size=4))
def test_a_damaged_report_is_read_or_refused_never_crashes(edits):
    content = bytearray(_VALID_REPORT)
    for position, replacement in edits:
        content[position:position + 1] = replacement  # a byte changed, removed or replaced by several
    try:
        report = read_status_report(bytes(content))
    except BankStatusError as error:
        assert error.message
    else:
        assert isinstance(report, StatusReport)
        outcomes_for(report, E2E)


# --- with the file Libeo really wrote, and the developers' command -----------------------------


def test_answering_the_file_libeo_handed_to_the_bank(client, libeo_app):
    info = make_account(libeo_app, name="Boulangerie Martin SARL", plan=Plan.PARTNERSHIPS, debtor_iban=DEBTOR_IBAN)
    api = Api(client, make_key(libeo_app, info.id))
    for n in range(2):
        body = {"number": f"F-{n}", "supplier": {"name": f"Minoterie {n}", "iban": valid_iban(300 + n)},
                "amount_cents": 5_000 + n, "currency": "EUR", "issue_date": "2026-10-01", "due_date": "2026-10-31"}
        assert api.put(f"/invoices/meg-{n}", json=body).status_code == 201
    payments = [api.pay(f"meg-{n}", key=f"k{n}").json["id"] for n in range(2)]
    with libeo_app.app_context():
        # Their execution date: the first business day, a Monday when the suite runs on a weekend.
        execute_due_payments(libeo_app.config["SEPA_EXPORT_DIR"],
                             db.session.scalar(select(func.max(Payment.execution_date))))
        batch = db.session.scalar(select(SepaBatch))
        pain001 = (Path(libeo_app.config["SEPA_EXPORT_DIR"]) / batch.file_name).read_bytes()
        message_id, end_to_end_ids = batch.message_id, [p.end_to_end_id for p in batch.payments]

    rejected = f"LIBEO-{payments[1]}"
    report = read_status_report(status_report_for(pain001, {rejected: ("RJCT", "AC04")}))

    assert report.original_message_id == message_id  # finds its batch
    outcomes = outcomes_for(report, end_to_end_ids)
    assert outcomes[f"LIBEO-{payments[0]}"].outcome == "paid"
    assert outcomes[rejected].failure_reason == "Rejeté : compte du bénéficiaire clôturé (AC04)"


def test_the_command_line(tmp_path, capsysbinary, pain001):
    path = tmp_path / "remise.xml"
    path.write_bytes(pain001)

    assert bank_simulator.main([str(path), "--reject", "LIBEO-103:ac04", "--status", "LIBEO-101:ACSP"]) == 0
    report = read_status_report(capsysbinary.readouterr().out)
    assert [(t.status, t.reason_code) for t in report.transactions] == [("ACSP", None), ("ACSC", None),
                                                                         ("RJCT", "AC04")]

    assert bank_simulator.main([str(path), "--group-status", "rjct", "--group-reason", "FF01"]) == 0
    assert read_status_report(capsysbinary.readouterr().out).group_status == "RJCT"

    assert bank_simulator.main([str(path), "--reject", "LIBEO-999:AC04"]) == 2
    assert "Virements absents du fichier : LIBEO-999" in capsysbinary.readouterr().err.decode()


def test_the_simulator_refuses_what_is_not_a_sepa_transfer_file(pain001):
    with pytest.raises(ValueError, match="pain.001.001.03"):
        status_report_for(status_report_for(pain001))
    with pytest.raises(ValueError, match="Statut de virement inconnu : PAID"):
        status_report_for(pain001, {"LIBEO-101": ("PAID", None)})
    broken = pain001.replace(b"<EndToEndId>LIBEO-101</EndToEndId>", b"")
    with pytest.raises(ValueError, match="ne respecte pas son schéma XSD"):
        status_report_for(broken)
