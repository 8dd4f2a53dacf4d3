"""The bank leg told truly: statements (camt.053/054) as the proof of debit, the bank's dates, rejections that
free the quota and block a closed account, contradictions kept for a person, bad files refused, the debit IBAN.

Every bank file here is real-shaped: devtools.bank_simulator writes it from the very pain.001 Libeo made,
valid against the official XSDs (pain.002.001.03, camt.053.001.02, camt.054.001.02).
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import func, select

from core.calendar import previous_business_day
from core.dates import paris_today, utcnow
from devtools.bank_simulator import OtherEntry, statement_for, status_report_for
from models.libeo import (
    Account,
    BankAnomaly,
    BankStatusImport,
    Payment,
    PaymentEvent,
    Plan,
    SepaBatch,
    db,
)
from models.libeo.journal import JournalEntry
from models.libeo.payments.sepa import execute_due_payments
from tests.factories import libeo_user
from tests.helpers import page as text

from .conftest import (
    DEBTOR_IBAN,
    RUN_DAY,
    Api,
    backdate_due_payments,
    make_account,
    make_key,
    valid_iban,
)


def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    run_day = previous_business_day(paris_today())
    return {"RUN_DAY": run_day, "SHOWN_RUN_DAY": f"{run_day:%d/%m/%Y}"}


SHOWN_RUN_DAY = f"{RUN_DAY:%d/%m/%Y}"


class Bank:
    """An account with invoices sent by MEG, paid, and put in one SEPA file; the bank's files about it."""

    def __init__(self, client, libeo_app, libeo_auth, *, plan=Plan.PARTNERSHIPS, count=3, rules=False):
        self.client, self.app = client, libeo_app
        self.info = make_account(libeo_app, name="Boulangerie Martin SARL", plan=plan, debtor_iban=DEBTOR_IBAN)
        if rules:
            with libeo_app.app_context():
                db.session.get(Account, self.info.id).approve_accountant_payments = True
                db.session.commit()
        self.api = Api(client, make_key(libeo_app, self.info.id))
        self.ids = [self.pay(n) for n in range(count)]
        libeo_auth.login(self.info.email)

    def pay(self, n: int, iban: str | None = None, name: str | None = None) -> int:
        supplier = {"name": name or f"Fournisseur {n}", "iban": iban or valid_iban(800 + n)}
        body = {"number": f"F-{n}", "supplier": supplier,
                "amount_cents": 10_000 + 111 * n, "currency": "EUR", "issue_date": "2026-10-01",
                "due_date": "2026-10-31"}
        assert self.api.put(f"/invoices/meg-{n}", json=body).status_code in (200, 201)
        answer = self.api.pay(f"meg-{n}", key=f"k{n}-{iban}")
        assert answer.status_code == 201, answer.json
        return answer.json["id"]

    def execute(self) -> bytes:
        backdate_due_payments(self.app)
        with self.app.app_context():
            execute_due_payments(None, RUN_DAY)
            return db.session.scalar(select(SepaBatch.xml).order_by(SepaBatch.id.desc()))

    def upload(self, content: bytes):
        return self.client.post("/libeo/remises/releve", data={"report": (BytesIO(content), "releve.xml")},
                                content_type="multipart/form-data", follow_redirects=True)

    def payment(self, payment_id: int) -> dict:
        return self.api.get(f"/payments/{payment_id}").json

    def e2e(self, index: int) -> str:
        return f"LIBEO-{self.ids[index]}"

    def events(self) -> int:
        with self.app.app_context():
            return db.session.scalar(select(func.count(PaymentEvent.id)))

    def journal(self) -> str:
        return text(self.client.get("/libeo/journal/"))


def batch_status(page: str) -> str:
    """The « Statut » of the first batch a « Remises » page shows."""
    cell = re.search(r'data-testid="batch-status">(.*?)</(?:td|dd)>', page, re.S)
    assert cell is not None, "no batch status on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", cell.group(1)).split()).removesuffix(" — décider dans « Remises »")


@pytest.fixture
def bank(client, libeo_app, libeo_auth) -> Bank:
    return Bank(client, libeo_app, libeo_auth)


# --- statements: the proof of debit, on the bank's date -------------------------------------------------


def test_an_accepted_report_is_not_a_debit_and_the_statement_says_the_day(bank):
    """Release 2: an accepted report imported on 4 December made a transfer for 14 December « Payé le 04/12 »."""
    pain001 = bank.execute()
    accepted = text(bank.upload(status_report_for(pain001, default="ACCP")))
    assert "3 paiements acceptés par la banque" in accepted
    assert all(bank.payment(i)["status"] == "accepted" and bank.payment(i)["paid_on"] is None for i in bank.ids)

    booked = RUN_DAY + timedelta(days=1)
    statement = statement_for(pain001, kind="camt.054", booking_date=booked)
    shown = text(bank.upload(statement))
    assert "Avis de débit (camt.054) CAMT054-" in shown and "3 paiements débités" in shown
    for payment_id in bank.ids:
        paid = bank.payment(payment_id)
        assert (paid["status"], paid["paid_on"], paid["status_label"]) == (
            "paid", booked.isoformat(), f"Débité le {booked:%d/%m/%Y}")  # the booking date, never the import's
    assert f"Débité le {booked:%d/%m/%Y}" in text(bank.client.get("/libeo/paiements/"))
    assert "avis de débit (camt.054)" in bank.journal().lower()  # every report imported is journaled


def test_a_debit_is_never_dated_before_the_execution_date_asked_for(bank):
    pain001 = bank.execute()
    too_early = RUN_DAY - timedelta(days=3)
    bank.upload(statement_for(pain001, booking_date=too_early))
    assert {bank.payment(i)["paid_on"] for i in bank.ids} == {RUN_DAY.isoformat()}


def test_a_statement_with_a_batch_booking_with_each_transfers_details(bank):
    pain001 = bank.execute()
    statement = statement_for(pain001, kind="camt.053", batch_booking=True, booking_date=RUN_DAY,
                              others=[OtherEntry("42.10"), OtherEntry("1500.00", debit=False, label="VIR CLIENT")])
    assert statement.count(b"<Ntry>") == 3  # one debit for the file, a card payment, a customer's transfer
    shown = text(bank.upload(statement))
    assert "Relevé de compte (camt.053) CAMT053-" in shown and "3 paiements débités" in shown
    assert {bank.payment(i)["status"] for i in bank.ids} == {"paid"}


def test_a_batch_booking_without_details_is_matched_by_the_file_and_its_total(bank):
    pain001 = bank.execute()
    statement = statement_for(pain001, batch_booking=True, with_details=False, booking_date=RUN_DAY)
    assert b"<EndToEndId>" not in statement and b"<PmtInfId>" in statement
    assert "3 paiements débités" in text(bank.upload(statement))


def test_a_debit_without_references_is_matched_by_amount_date_and_iban_and_asked_when_ambiguous(
        client, libeo_app, libeo_auth):
    bank = Bank(client, libeo_app, libeo_auth, count=1)
    twin = bank.pay(1, iban=valid_iban(800), name="Fournisseur 0")  # another invoice of the same supplier…
    with libeo_app.app_context():
        db.session.get(Payment, twin).amount_cents = 10_000  # …of the same amount: two transfers look alike
        db.session.commit()
    bank.ids.append(twin)
    third = bank.pay(2)
    bank.ids.append(third)
    pain001 = bank.execute()
    others = [OtherEntry("100.00", creditor_iban=valid_iban(800), creditor_name="Fournisseur 0"),
              OtherEntry("102.22", creditor_iban=valid_iban(802), creditor_name="Fournisseur 2")]
    statement = statement_for(pain001, debited=[], others=others, booking_date=RUN_DAY)
    shown = text(bank.upload(statement))
    assert "1 paiement débité" in shown and "1 anomalie à vérifier" in shown
    assert bank.payment(third)["status"] == "paid"  # one transfer fits: matched
    # Two fit: a person says which. The bank debited a transfer of their file: it has the file.
    assert {bank.payment(i)["status"] for i in bank.ids[:2]} == {"transmitted"}
    assert all("plusieurs virements" in bank.payment(i)["bank_anomaly"] for i in bank.ids[:2])
    assert bank.payment(third)["bank_anomaly"] is None

    remittances = text(bank.client.get("/libeo/remises/"))
    assert "que plusieurs virements peuvent être" in remittances
    assert "C'est la facture F-0 (Fournisseur 0)" in remittances
    assert "C'est la facture F-1 (Fournisseur 0)" in remittances
    anomaly = re.search(r'action="(/libeo/remises/anomalies/\d+)"', remittances).group(1)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', remittances)
    data = {"decision": "apply", "payment_id": str(twin)}
    if token:
        data["csrf_token"] = token.group(1)
    done = text(bank.client.post(anomaly, data=data, follow_redirects=True))
    assert "attribué au paiement de la facture F-1" in done
    assert bank.payment(twin)["status"] == "paid" and bank.payment(bank.ids[0])["status"] == "transmitted"
    assert "Anomalie résolue" in bank.journal()
    # Each transfer the debit could be said so in the API (MEG's story) until then, neither does now.
    assert [bank.payment(i)["bank_anomaly"] for i in bank.ids] == [None, None, None]


# --- rejections and returns: the reason kept, the slot freed, the closed account blocked --------------


def test_a_return_rejects_the_transfer_with_its_reason_and_the_banks_words(bank):
    pain001 = bank.execute()
    words = "Compte clos le 30/11/2026 ; le bénéficiaire nous a communiqué de nouvelles coordonnées bancaires."
    statement = statement_for(pain001, debited=[bank.e2e(0), bank.e2e(1)], returns={bank.e2e(2): ("AC04", words)},
                              booking_date=RUN_DAY)
    shown = text(bank.upload(statement))
    assert "2 paiements débités, 1 paiement rejeté" in shown
    returned = bank.payment(bank.ids[2])
    assert returned["status"] == "failed" and returned["failure_code"] == "AC04"
    assert returned["failure_reason"] == (
        f"Rejeté : compte du bénéficiaire clôturé (AC04) — retourné le {SHOWN_RUN_DAY}")
    assert returned["bank_text"] == words
    page = text(bank.client.get(f"/libeo/paiements/{bank.ids[2]}"))
    assert words in page  # the bank's own text, as written


def test_a_rejection_for_a_closed_account_blocks_the_same_iban_and_asks_for_the_new_one(bank):
    """Release 2: after AC04, « Payer » proposed the same IBAN again with no warning."""
    pain001 = bank.execute()
    bank.upload(status_report_for(pain001, {bank.e2e(0): ("RJCT", "AC04")}))
    refused = bank.api.pay("meg-0", key="again")
    assert refused.status_code == 409
    error = refused.json["error"]
    assert error["code"] == "iban_rejected"
    assert "compte du bénéficiaire clôturé (AC04)" in error["message"]
    assert "Demandez au fournisseur son nouvel IBAN" in error["message"]
    assert "IBAN" in bank.journal() and "refusé par la banque" in bank.journal()
    # The supplier's new IBAN: paid again, held for approval as any new IBAN.
    body = {"number": "F-0", "supplier": {"name": "Fournisseur 0", "iban": valid_iban(900)}, "amount_cents": 10_000,
            "currency": "EUR", "issue_date": "2026-10-01", "due_date": "2026-10-31"}
    assert bank.api.put("/invoices/meg-0", json=body).status_code == 200
    retried = bank.api.pay("meg-0", key="new-iban")
    assert retried.status_code == 201 and retried.json["hold_reasons"] == ["new_iban"]


def test_a_rejection_for_another_reason_allows_a_retry_showing_the_reason(bank):
    pain001 = bank.execute()
    bank.upload(status_report_for(pain001, {bank.e2e(1): ("RJCT", "AM04")}))
    failed = bank.payment(bank.ids[1])
    assert failed["failure_reason"] == "Rejeté : provision insuffisante (AM04)" and not failed["new_iban_required"]
    page = text(bank.client.get(f"/libeo/paiements/{bank.ids[1]}"))
    assert "Vous pouvez payer à nouveau cette facture" in page and "nouvel IBAN" not in page
    assert bank.api.pay("meg-1", key="retry").status_code == 201


def test_a_payment_rejected_by_the_bank_frees_its_slot_of_the_month(client, libeo_app, libeo_auth):
    """Release 2: a transfer rejected (AC04) still used one of the month's Gratuit payments."""
    bank = Bank(client, libeo_app, libeo_auth, plan=Plan.GRATUIT, count=3)
    pain001 = bank.execute()
    assert bank.api.get("/me").json["payments_this_month"] == 3
    bank.upload(status_report_for(pain001, {bank.e2e(0): ("RJCT", "AC04"), bank.e2e(1): ("RJCT", "DT01")}))
    assert bank.api.get("/me").json["payments_this_month"] == 1
    # Importing the same rejection again gives nothing back twice.
    bank.upload(status_report_for(pain001, {bank.e2e(0): ("RJCT", "AC04"), bank.e2e(1): ("RJCT", "DT01")}))
    assert bank.api.get("/me").json["payments_this_month"] == 1


# --- contradictions: kept for a person, never applied by a report ---------------------------------------


def test_a_return_after_a_debit_is_an_anomaly_a_person_resolves(bank, apps, tmp_path):
    pain001 = bank.execute()
    bank.upload(statement_for(pain001, booking_date=RUN_DAY))
    events = bank.events()
    later = statement_for(pain001, debited=[], returns={bank.e2e(0): ("AC04", None)}, booking_date=RUN_DAY,
                          message_id="CAMT054-RETOUR-1")
    path = tmp_path / "retour.xml"
    path.write_bytes(later)
    result = apps.root.test_cli_runner().invoke(args=["libeo", "import-bank-status", str(path)])
    assert result.exit_code == 2  # the command says a person is needed
    assert "1 anomalie(s) à résoudre par une personne dans « Remises »" in result.output
    # Nothing moved back by itself: one event more, to say the anomaly beside the state kept.
    assert bank.events() == events + 1
    told = bank.payment(bank.ids[0])
    assert told["status"] == "paid" and "retourné par la banque du bénéficiaire" in told["bank_anomaly"]

    page = text(bank.client.get(f"/libeo/paiements/{bank.ids[0]}"))
    assert "Anomalie à vérifier" in page and "retourné par la banque du bénéficiaire" in page
    remittances = text(bank.client.get("/libeo/remises/"))
    assert "La banque a raison : passer en « Rejeté »" in remittances
    assert "Anomalie à vérifier" in bank.journal()
    anomaly = re.search(r'action="(/libeo/remises/anomalies/\d+)"', remittances).group(1)
    done = text(bank.client.post(anomaly, data={"decision": "apply"}, follow_redirects=True))
    assert "passé de débité à « Rejeté : compte du bénéficiaire clôturé (AC04)" in done
    assert bank.payment(bank.ids[0])["status"] == "failed"
    assert bank.payment(bank.ids[0])["bank_anomaly"] is None  # decided: nothing left to tell
    assert "À vérifier" not in text(bank.client.get("/libeo/remises/"))
    # No longer debited: its page no longer says when, beside « Rejeté ».
    detail = text(bank.client.get(f"/libeo/paiements/{bank.ids[0]}"))
    assert "Rejeté : compte du bénéficiaire clôturé (AC04)" in detail and "Débité le" not in detail
    assert bank.payment(bank.ids[0])["paid_on"] is None


def test_a_debit_the_person_applies_after_a_rejection_is_told_from_the_statement_not_the_rejection(bank):
    pain001 = bank.execute()
    bank.upload(status_report_for(pain001, {bank.e2e(0): ("RJCT", "MS03")}))
    shown = text(bank.upload(statement_for(pain001, debited=[bank.e2e(0)], booking_date=RUN_DAY)))
    anomaly = re.search(r'action="(/libeo/remises/anomalies/\d+)"', shown).group(1)
    done = text(bank.client.post(anomaly, data={"decision": "apply"}, follow_redirects=True))
    assert "passé de « Rejeté : raison non précisée par la banque (MS03) » à « Débité le" in done
    detail = text(bank.client.get(f"/libeo/paiements/{bank.ids[0]}"))
    shown = " ".join(re.sub(r"<[^>]+>", " ", detail).split())
    assert re.search(f"Débité le {SHOWN_RUN_DAY} \\(relevé de la banque, retenu par [^)]+@[^)]+\\)", shown), shown
    # Who decided, and what: the bank's statement alone did not make it « Débité ».
    assert re.search(r"Anomalie résolue le \d\d/\d\d/\d{4} à \d\d:\d\d \(par [^)]+@[^)]+\) — Paiement .* passé de "
                     r"« Rejeté : raison non précisée par la banque \(MS03\) » à « Débité le", shown), shown
    assert "RJCT" not in detail and "Motif de la banque" not in detail


def test_a_debit_after_a_rejection_is_an_anomaly_and_keeping_the_state_is_a_decision(bank):
    pain001 = bank.execute()
    bank.upload(status_report_for(pain001, {bank.e2e(0): ("RJCT", "MS03")}))
    shown = text(bank.upload(statement_for(pain001, debited=[bank.e2e(0)], booking_date=RUN_DAY)))
    assert "1 anomalie à vérifier" in shown and "Libeo le garde rejeté jusqu'à votre décision" in shown
    # The box's first words say only the kind of anomaly there is.
    assert ("Un fichier de la banque dit d'un virement autre chose que ce que Libeo sait. Libeo n'a rien changé"
            in " ".join(re.sub(r"<[^>]+>", " ", shown).split()))
    assert "ne reconnaît pas" not in shown
    assert bank.payment(bank.ids[0])["status"] == "failed"
    # The file is not « Traitée » while a person has to decide about one of its transfers, on either page.
    remittances = text(bank.client.get("/libeo/remises/"))
    assert batch_status(remittances) == "À vérifier : 2 débités, 1 rejeté en anomalie"  # each transfer counted once
    batch_id = re.search(r'href="/libeo/remises/(\d+)"', remittances).group(1)
    detail = text(bank.client.get(f"/libeo/remises/{batch_id}"))
    assert batch_status(detail) == batch_status(remittances)
    assert 'href="/libeo/remises/#anomalies">décider dans « Remises »</a>' in detail
    # What keeping « Rejeté » gives back is said before and after the click.
    assert ("En gardant l'état rejeté, la facture F-0 peut de nouveau être payée ici et dans MEG. "
            "Vérifiez d'abord auprès de votre banque que ce virement n'a pas "
            "été débité") in remittances
    anomaly = re.search(r'action="(/libeo/remises/anomalies/\d+)"', shown).group(1)
    kept = text(bank.client.post(anomaly, data={"decision": "keep"}, follow_redirects=True))
    assert ("État gardé : « Rejeté : raison non précisée par la banque (MS03) ». La facture F-0 peut de nouveau "
            "être payée ici et dans MEG.") in kept
    assert batch_status(kept) == "Traitée : 2 débités, 1 rejeté"
    again = text(bank.client.post(anomaly, data={"decision": "keep"}, follow_redirects=True))
    assert "Cette anomalie a déjà été résolue" in again


@pytest.mark.parametrize(("counts", "label"), [
    ({"PAID": 2, "FAILED": 1}, "Traitée : 2 débités, 1 rejeté"),
    ({"PAID": 2, "FAILED": 1, ("anomalies", "FAILED"): 1}, "À vérifier : 2 débités, 1 rejeté en anomalie"),
    ({"PAID": 3, ("anomalies", "PAID"): 1}, "À vérifier : 3 débités dont 1 en anomalie"),
    ({"TRANSMITTED": 2, ("anomalies", "TRANSMITTED"): 1, "FAILED": 1},
     "Transmis à la banque : 2 virements en attente de la banque, dont 1 en anomalie"),
    ({"ACCEPTED": 1, "FAILED": 1, ("anomalies", "FAILED"): 1},
     "Transmis à la banque : 1 virement en attente de la banque ; à vérifier : 1 rejeté en anomalie"),
])
def test_a_files_status_counts_each_transfer_once_with_its_anomaly_beside_its_state(counts, label):
    from models.libeo import PaymentStatus
    from models.libeo.payments.sepa import batch_status_label

    def state(name):
        return PaymentStatus[name]

    shaped = {(key[0], state(key[1])) if isinstance(key, tuple) else state(key): n for key, n in counts.items()}
    assert batch_status_label(SepaBatch(status="sent", transmitted_at=None), shaped) == label


def test_keeping_a_rejection_for_a_closed_account_says_the_new_iban_comes_first(bank):
    """The bank rejected the transfer because the payee's account is closed: « Garder « Rejeté » » gives
    « Payer » back only once the supplier's new IBAN is recorded, and the pages say where."""
    pain001 = bank.execute()
    bank.upload(status_report_for(pain001, {bank.e2e(0): ("RJCT", "AC04")}))
    shown = text(bank.upload(statement_for(pain001, debited=[bank.e2e(0)], booking_date=RUN_DAY)))
    assert ("En gardant l'état rejeté, la facture F-0 pourra de nouveau être "
            "payée une fois le nouvel IBAN de Fournisseur 0 enregistré dans MEG (fiche du fournisseur).") in shown
    # While the anomaly is open, the payment's page does not ask for a new IBAN beside it.
    detail = text(bank.client.get(f"/libeo/paiements/{bank.ids[0]}"))
    assert "Anomalie à vérifier" in detail and "ne peut pas recevoir ce virement" not in detail
    anomaly = re.search(r'action="(/libeo/remises/anomalies/\d+)"', shown).group(1)
    kept = text(bank.client.post(anomaly, data={"decision": "keep"}, follow_redirects=True))
    assert ("La facture F-0 pourra de nouveau être payée une fois le nouvel IBAN de Fournisseur 0 enregistré dans MEG "
            "(fiche du fournisseur).") in kept
    detail = text(bank.client.get(f"/libeo/paiements/{bank.ids[0]}"))
    assert "ne peut pas recevoir ce virement" in detail
    assert '<span class="mono">AC04</span> (compte du bénéficiaire clôturé)' in detail  # the code is explained
    # Libeo's invoice page offers no « Payer » that would be refused, and says where the new IBAN goes.
    with bank.app.app_context():
        invoice_id = db.session.get(Payment, bank.ids[0]).invoice_id
    page = text(bank.client.get(f"/libeo/factures/{invoice_id}"))
    assert "Libeo ne paie plus l'IBAN" in page and "modifiez-le dans MEG (fiche du fournisseur)" in page
    assert "Payer par virement" not in page and "Modifier l'IBAN du fournisseur" not in page
    # Through the API too, the refusal says where.
    refused = bank.api.pay("meg-0", key="again")
    assert refused.status_code == 409
    assert "enregistrez-le dans MEG (fiche du fournisseur)" in refused.json["error"]["message"]


def test_an_invoice_entered_in_libeo_takes_its_suppliers_new_iban_on_its_page(bank):
    """Its payment was refused after AC04 with « enregistrez-le sur la facture », a page with no way to do it."""
    created = bank.client.post("/libeo/factures/nouvelle", data={
        "number": "L-1", "supplier_name": "Minoterie Dupuis", "supplier_iban": valid_iban(900), "supplier_bic": "",
        "issue_date": "2026-10-01", "due_date": "2026-10-31", "amount": "250,00"})
    invoice_id = int(created.headers["Location"].rsplit("/", 1)[1])
    page = f"/libeo/factures/{invoice_id}"
    bank.client.post(f"{page}/payer", data={"execution_date": RUN_DAY.isoformat()})
    pain001 = bank.execute()
    with bank.app.app_context():
        payment_id = db.session.scalar(select(Payment.id).where(Payment.invoice_id == invoice_id))
    bank.upload(status_report_for(pain001, {f"LIBEO-{payment_id}": ("RJCT", "AC04")}))

    listed = text(bank.client.get("/libeo/factures/"))
    assert f'value="{invoice_id}"' not in listed  # not selectable: its « Payer » would be refused
    assert "Non sélectionnable : nouvel IBAN du fournisseur nécessaire" in listed
    assert f'href="/libeo/factures/{invoice_id}#iban" data-testid="invoice-new-iban"' in listed
    shown = text(bank.client.get(page))
    assert "Libeo ne paie plus l'IBAN" in shown and "enregistrez-le ci-dessous" in shown
    assert "Payer par virement" not in shown
    assert re.search(r'<details class="card" id="iban" open>\s*<summary>Modifier l\'IBAN du fournisseur', shown)
    events = bank.events()
    for iban, said in [("FR76 1234", "IBAN"), (valid_iban(900), "C'est déjà l'IBAN de la facture L-1"),
                       ("TR330006100519786457841326", "Turquie")]:
        refused = bank.client.post(f"{page}/iban", data={"supplier_iban": iban, "supplier_bic": ""})
        assert refused.status_code == 422 and said in text(refused), text(refused)
    assert bank.events() == events

    changed = text(bank.client.post(f"{page}/iban", data={"supplier_iban": valid_iban(901), "supplier_bic": ""},
                                    follow_redirects=True))
    assert "IBAN de Minoterie Dupuis sur la facture L-1" in changed and "remplacé par" in changed
    assert "Libeo ne paie plus l'IBAN" not in changed and "Payer par virement" in changed
    assert "IBAN de Minoterie Dupuis sur la facture L-1" in bank.journal()
    assert f'value="{invoice_id}"' in text(bank.client.get("/libeo/factures/"))
    paid = text(bank.client.post(f"{page}/payer", data={"execution_date": RUN_DAY.isoformat()},
                                 follow_redirects=True))
    assert "est retenu pour approbation (nouvel IBAN du fournisseur)" in paid
    # The approver reads why the IBAN changed, not that the supplier « a été payé » on the closed account.
    assert "Le dernier virement vers son IBAN précédent, FR76" in paid
    assert "a été rejeté par la banque : compte du bénéficiaire clôturé (AC04)." in paid
    assert "payé jusqu'ici" not in paid
    # The rejected payment's page no longer asks for what was done (its link led to a form now gone).
    rejected = text(bank.client.get(f"/libeo/paiements/{payment_id}"))
    assert "ne peut pas recevoir ce virement" not in rejected
    assert "La facture a été payée de nouveau depuis" in rejected and "« À approuver »" in rejected
    # Under way now: its IBAN no longer changes, and an invoice MEG sent never takes one here.
    refused = text(bank.client.post(f"{page}/iban", data={"supplier_iban": valid_iban(902), "supplier_bic": ""},
                                    follow_redirects=True))
    assert "l'IBAN de son fournisseur ne peut plus être modifié" in refused
    with bank.app.app_context():
        meg_invoice = db.session.get(Payment, bank.ids[1]).invoice_id
    refused = text(bank.client.post(f"/libeo/factures/{meg_invoice}/iban",
                                    data={"supplier_iban": valid_iban(902), "supplier_bic": ""},
                                    follow_redirects=True))
    assert "son IBAN se modifie dans MEG (fiche du fournisseur)" in refused


# --- files that are not this account's, or not a bank's: a French message, nothing changed -------------


BAD_FILES = ["schema", "other_account", "currency", "unknown_file", "not_a_bank_file", "offset_past_9999",
             "year_one", "amount_of_18_digits", "booked_in_the_future", "accepted_in_the_future"]


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_are_refused_in_french_and_change_nothing(bank, case):
    """Dates and amounts the XSD allows and no bank writes used to answer 500 (a time of 31/12/9999 at -14:00 is
    past year 9999 in UTC; 18 digits of euros overflow the database), or to make a payment « Débité le
    31/12/9999 »."""
    pain001 = bank.execute()
    statement = statement_for(pain001)
    impossible = "Date impossible dans le fichier de la banque"
    booked_once = statement_for(pain001, batch_booking=True, with_details=False, kind="camt.053")
    content, words = {
        "offset_past_9999": (re.sub(rb"<CreDtTm>[^<]+</CreDtTm>", b"<CreDtTm>9999-12-31T23:00:00-14:00</CreDtTm>",
                                    status_report_for(pain001), count=1), impossible),
        "year_one": (re.sub(rb"(<BookgDt>\s*<Dt>)[^<]+", rb"\g<1>0001-01-01", statement), impossible),
        "amount_of_18_digits": (re.sub(rb'(<Ntry>\s*(?:<NtryRef>[^<]*</NtryRef>\s*)?<Amt Ccy="EUR">)[^<]+',
                                       rb"\g<1>999999999999999999", booked_once, count=1),
                                "Montant impossible dans le relevé : « 999999999999999999 »"),
        "booked_in_the_future": (statement_for(pain001, booking_date=paris_today() + timedelta(days=30)),
                                 "Le fichier date une écriture du"),
        "accepted_in_the_future": (status_report_for(pain001, accepted_at=utcnow() + timedelta(days=30)),
                                   "Le fichier date une acceptation du"),
        "schema": (statement.replace(b"<Sts>BOOK</Sts>", b"<Sts>FAIT</Sts>"),
                   "n'est pas un avis de débit camt.054.001.02 valide : il ne respecte pas le schéma XSD officiel"),
        "other_account": (statement_for(pain001, iban=valid_iban(4242)),
                          "qui n'est pas le compte bancaire que vos remises débitent"),
        "currency": (statement_for(pain001, currency="USD"), "Ce relevé est en USD : Libeo ne paie qu'en euros"),
        "unknown_file": (status_report_for(pain001.replace(b"<MsgId>LBO-", b"<MsgId>XYZ-")),
                         "qui n'est pas une remise de votre compte"),
        "not_a_bank_file": (pain001, "Ce fichier est un ordre de virement (pain.001.001.03)"),
    }[case]
    events = bank.events()
    refused = bank.upload(content)
    assert refused.status_code == 422
    assert words in text(refused) and "Traceback" not in text(refused)
    assert bank.events() == events
    with bank.app.app_context():
        assert db.session.scalar(select(func.count(BankStatusImport.id))) == 0
        assert db.session.scalar(select(func.count(BankAnomaly.id))) == 0


def with_unknown_transfers(report: bytes, count: int) -> bytes:
    """The status report with ``count`` rejections more, of transfers no file of Libeo holds."""
    from copy import deepcopy

    from lxml import etree

    root = etree.fromstring(report)
    transaction = next(root.iter("{*}TxInfAndSts"))
    for n in range(count):
        copy = deepcopy(transaction)
        next(copy.iter("{*}OrgnlEndToEndId")).text = f"INCONNU-{n}"
        transaction.addnext(copy)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_a_file_with_more_anomalies_than_a_person_can_decide_is_refused_and_remises_shows_the_oldest(bank):
    """A status report naming 15,000 transfers no file holds made 15,000 anomalies, and « Remises » rendered
    14 MB at each visit."""
    pain001 = bank.execute()
    rejected = status_report_for(pain001, {bank.e2e(0): ("RJCT", "AC04")})
    events = bank.events()
    refused = bank.upload(with_unknown_transfers(rejected, 150))
    assert refused.status_code == 422
    assert "Ce fichier laisserait 150 anomalies à vérifier" in text(refused) and "Rien n'a été importé" in text(refused)
    assert bank.events() == events
    with bank.app.app_context():
        assert db.session.scalar(select(func.count(BankAnomaly.id))) == 0
        assert db.session.scalar(select(func.count(BankStatusImport.id))) == 0

    shown = text(bank.upload(with_unknown_transfers(rejected, 60)))
    assert "À vérifier : 60 anomalies" in shown
    assert "La banque parle d'un virement que Libeo ne reconnaît pas. Libeo n'a rien changé" in shown
    assert shown.count('name="decision" value="keep"') == 50
    assert ("Les 50 plus anciennes sont affichées : les 10 suivantes apparaîtront à mesure que vous les "
            "résolvez.") in shown


def test_the_command_line_takes_a_statement_and_refuses_a_bad_one(bank, apps, tmp_path):
    pain001 = bank.execute()
    path = tmp_path / "camt053.xml"
    path.write_bytes(statement_for(pain001, kind="camt.053", booking_date=RUN_DAY))
    runner = apps.root.test_cli_runner()
    result = runner.invoke(args=["libeo", "import-bank-status", str(path)])
    assert result.exit_code == 0, result.output
    assert "Boulangerie Martin SARL : Relevé de compte (camt.053)" in result.output
    assert f"Facture F-0 (100,00\u00a0€) : Débité le {SHOWN_RUN_DAY}" in result.output
    path.write_bytes(statement_for(pain001, iban=valid_iban(4243)))
    refused = runner.invoke(args=["libeo", "import-bank-status", str(path)])
    assert refused.exit_code == 1 and "qu'aucun compte Libeo ne débite" in refused.output


# --- « Transmis à la banque » -----------------------------------------------------------------------------


def test_transmitted_once_and_the_bank_answering_first_counts_as_transmitted(bank):
    pain001 = bank.execute()
    remittances = text(bank.client.get("/libeo/remises/"))
    action = re.search(r'action="(/libeo/remises/\d+/transmise)"', remittances).group(1)
    bank.upload(status_report_for(pain001, {bank.e2e(0): ("ACTC", None)}, default="PDNG"))
    assert bank.payment(bank.ids[0])["transmitted_at"] is not None  # the bank has it
    # The file reads « Transmis à la banque », said by the bank's report: nothing left to click.
    assert "/transmise" not in text(bank.client.get("/libeo/remises/"))
    assert bank.payment(bank.ids[1])["status"] == "accepted"
    done = text(bank.client.post(action, follow_redirects=True))  # from a page opened before the report
    assert "est déjà indiquée comme transmise à la banque le" in done
    assert "(par le relevé de statut (pain.002) PSR-" in done
    again = text(bank.client.post(action, follow_redirects=True))
    assert "est déjà indiquée comme transmise à la banque le" in again
    assert "transmise à la banque" in bank.journal()


# --- the company's debit IBAN --------------------------------------------------------------------------


def test_a_debit_iban_change_is_journaled_masked(client, libeo_app, libeo_auth):
    info = make_account(libeo_app, debtor_iban=DEBTOR_IBAN)
    libeo_auth.login(info.email)
    new = valid_iban(31337)
    done = text(client.post("/libeo/configuration/", data={"iban": new, "bic": ""}, follow_redirects=True))
    assert "Le compte bancaire est enregistré" in done
    journal = text(client.get("/libeo/journal/"))
    assert "Compte bancaire débité changé : FR76" in journal and info.email in journal
    assert new not in journal.replace(" ", "")  # masked
    remittances = text(client.get("/libeo/remises/"))
    assert "Dernier changement" in remittances and f"par {info.email}" in remittances


def test_with_approval_rules_a_second_administrator_confirms_the_debit_iban(client, libeo_app, libeo_auth, apps):
    bank_ = Bank(client, libeo_app, libeo_auth, count=0, rules=True)
    with libeo_app.app_context():
        libeo_user(bank_.info.id, "associe@boulangerie-martin.fr", is_admin=True)
        db.session.commit()
    new = valid_iban(27182)
    asked = text(client.post("/libeo/configuration/", data={"iban": new, "bic": ""}, follow_redirects=True))
    assert "attend la confirmation d'un autre administrateur" in asked
    with libeo_app.app_context():
        assert db.session.get(Account, bank_.info.id).debtor_iban == DEBTOR_IBAN  # not yet
    assert "Confirmer le changement" not in asked  # not by the one who asked
    assert "en attente de la confirmation d'un autre administrateur" in text(client.get("/libeo/remises/"))

    libeo_auth.logout()
    libeo_auth.login("associe@boulangerie-martin.fr")
    page = text(client.get("/libeo/configuration/"))
    assert "Confirmer le changement" in page
    token = re.search(r'action="/libeo/configuration/compte-bancaire/confirmer".*?value="([^"]+)"', page, re.S)
    confirmed = text(client.post("/libeo/configuration/compte-bancaire/confirmer",
                                 data={"csrf_token": token.group(1)} if token else {}, follow_redirects=True))
    assert "Le changement est confirmé" in confirmed
    with libeo_app.app_context():
        assert db.session.get(Account, bank_.info.id).debtor_iban == new
        messages = [e.message for e in db.session.scalars(select(JournalEntry).order_by(JournalEntry.id))]
    assert any("Changement du compte bancaire débité demandé" in m for m in messages)
    assert any("confirmé par associe@boulangerie-martin.fr" in m for m in messages)


def test_support_confirms_when_no_other_administrator_can(client, libeo_app, libeo_auth, apps):
    bank_ = Bank(client, libeo_app, libeo_auth, count=0, rules=True)
    client.post("/libeo/configuration/", data={"iban": valid_iban(16180), "bic": ""})
    assert "contactez le support de Libeo" in text(client.get("/libeo/configuration/"))
    result = apps.root.test_cli_runner().invoke(
        args=["libeo", "confirm-debit-iban", "--siret", bank_.info.siret])
    assert result.exit_code == 0 and "compte bancaire débité changé pour FR76" in result.output
    with libeo_app.app_context():
        assert db.session.get(Account, bank_.info.id).debtor_iban == valid_iban(16180)


def test_today_is_never_the_debit_date_of_an_import(bank):
    """A report imported days later keeps the bank's date: the statement's, not today's."""
    pain001 = bank.execute()
    bank.upload(statement_for(pain001, booking_date=RUN_DAY))
    if paris_today() != RUN_DAY:
        assert {bank.payment(i)["paid_on"] for i in bank.ids} == {RUN_DAY.isoformat()}
    with bank.app.app_context():
        assert db.session.scalar(select(func.count(BankStatusImport.id))) == 1
