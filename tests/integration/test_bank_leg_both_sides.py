"""The bank leg read the same way in both products: each state and its date on MEG's lists, MEG's invoice page,
Libeo's pages, the document (« Ordre de virement », then « Justificatif de paiement ») and the events feed.

Real HTTP between the products (MEG's client through Libeo's WSGI stack), real SEPA files and bank files.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta
from html import unescape
from io import BytesIO

from pypdf import PdfReader
from sqlalchemy import func, select, update

from core.banks import bank_name
from core.calendar import previous_business_day
from core.dates import paris_today, utcnow
from core.money import format_amount
from core.validators import mask_iban
from devtools.bank_simulator import statement_for, status_report_for
from models.meg import PaymentAttempt, Supplier, SupplierInvoice
from models.meg import db as meg_db
from tests.helpers import page, sync

from .conftest import meg_libeo_invoices


def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    return {"RUN_DAY": previous_business_day(paris_today())}


(RUN_DAY,) = dated_constants().values()


def pdf_text(content: bytes) -> str:
    return " ".join(PdfReader(io.BytesIO(content)).pages[0].extract_text().replace("\u00a0", " ").split())


def set_debtor_iban(libeo_app, account_id: int) -> None:
    from models.libeo import Account, db

    with libeo_app.app_context():
        db.session.get(Account, account_id).debtor_iban = "FR7630004008220000001583859"
        db.session.commit()


def execute(libeo_app, day: date | None = None) -> bytes:
    """Runs the execution on ``day`` (RUN_DAY unless said; scheduled payments due then) and returns the file
    written."""
    from models.libeo import Payment, PaymentStatus, SepaBatch, db
    from models.libeo.payments.sepa import execute_due_payments

    day = day or RUN_DAY
    with libeo_app.app_context():
        db.session.execute(update(Payment).where(Payment.status == PaymentStatus.SCHEDULED)
                           .values(execution_date=day))
        db.session.commit()
        execute_due_payments(None, day)
        return db.session.scalar(select(SepaBatch.xml).order_by(SepaBatch.id.desc()))


def import_file(libeo_app, content: bytes):
    from models.libeo import db
    from models.libeo.payments.bank_status_import import import_bank_status

    with libeo_app.app_context():
        result = import_bank_status(content, imported_by="test")
        db.session.commit()
        return result


def only_end_to_end_id(meg_app) -> str:
    """The SEPA end-to-end id of MEG's only payment."""
    with meg_app.app_context():
        return f"LIBEO-{meg_db.session.scalar(select(PaymentAttempt.libeo_payment_id))}"


def sync_quiet(meg_app) -> None:
    """A sync pass that reads the feed of companies with nothing in flight too (``SYNC_QUIET_SECONDS`` later)."""
    from models.meg.libeo_link.sync import sync_pass

    with meg_app.app_context():
        sync_pass(utcnow() + timedelta(seconds=meg_app.config["SYNC_QUIET_SECONDS"] + 1))


def paid_then_rejected(connected, client, meg_app, libeo_app, code: str) -> tuple[int, str, bytes, str]:
    """MEG's first Libeo invoice paid, its SEPA file written, then rejected by the bank with ``code``: the
    invoice's id and number, the pain.001 and the transfer's end-to-end id."""
    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    set_debtor_iban(libeo_app, connected["account_id"])
    pain001 = execute(libeo_app)
    e2e = only_end_to_end_id(meg_app)
    import_file(libeo_app, status_report_for(pain001, {e2e: ("RJCT", code)}))
    return invoice_id, number, pain001, e2e


def pay(client, invoice_id: int) -> None:
    answer = page(client.post(f"/meg/achats/factures/{invoice_id}/payer", data={"next": "/meg/achats/reglements"},
                              follow_redirects=True))
    assert "Paiement programmé le" in answer, answer


def paid_to(client, invoice_id: int, testid: str = "paid-to") -> str:
    """The invoice page's « Virement Libeo » line: where and when, and whose word it is (``debited``: once paid)."""
    found = re.search(rf'data-testid="{testid}">(.*?)</dd>', page(client.get(f"/meg/achats/factures/{invoice_id}")))
    assert found is not None
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())


def everywhere(client, invoice_id: int) -> list[str]:
    """MEG's « Règlements », « Factures » and the invoice's page."""
    return [page(client.get(path)) for path in
            ("/meg/achats/reglements", "/meg/achats/", f"/meg/achats/factures/{invoice_id}")]


def test_one_lifecycle_with_the_banks_dates_on_both_sides(connected, client, meg_app, libeo_app):
    """Release 2 said « Remis à la banque » as soon as the file was written, and « Payé le <import day> »."""
    (invoice_id, number, _), (rejected_id, *_) = meg_libeo_invoices(meg_app)[:2]
    pay(client, invoice_id)
    pay(client, rejected_id)
    assert paid_to(client, invoice_id).endswith("(tel que Libeo le paiera)")
    set_debtor_iban(libeo_app, connected["account_id"])
    pain001 = execute(libeo_app)
    sync(meg_app)
    for shown in everywhere(client, invoice_id):
        assert "Fichier prêt — à transmettre à votre banque" in shown
        assert "Remis à la banque" not in shown and "Payée via Libeo" not in shown
    assert paid_to(client, invoice_id).endswith(
        "(tel que l'indique le fichier de virements de Libeo, à transmettre à la banque)")
    invoice_page = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "Ordre de virement (PDF)" in invoice_page and "la banque n'a pas encore confirmé le débit" in invoice_page
    order = client.get(f"/meg/achats/factures/{invoice_id}/justificatif")
    assert "Ordre de virement" in pdf_text(order.data)

    # « Transmis à la banque » on Libeo's « Remises ».
    client.post("/libeo/connexion", data={"email": "claire@boulangerie-martin.fr",
                                          "password": "mot-de-passe-solide-42"})
    remittances = page(client.get("/libeo/remises/"))
    client.post(re.search(r'action="(/libeo/remises/\d+/transmise)"', remittances).group(1))
    sync(meg_app)
    today = f"{paris_today():%d/%m/%Y}"
    for shown in everywhere(client, invoice_id):
        assert f"Transmis à la banque le {today}" in shown
    assert paid_to(client, invoice_id).endswith("(tel que l'indique le fichier de virements transmis à la banque)")

    import_file(libeo_app, status_report_for(pain001, default="ACSP"))
    sync(meg_app)
    for shown in everywhere(client, invoice_id):
        assert f"Accepté par la banque le {today} (ACSP)" in shown and "Payée via Libeo" not in shown
    assert paid_to(client, invoice_id).endswith("(tel que l'indique le fichier de virements transmis à la banque)")

    # The statement: debited on its booking date; the other transfer returned for a closed account.
    with meg_app.app_context():
        sent = meg_db.session.scalars(select(PaymentAttempt).order_by(PaymentAttempt.id)).all()
        paid_e2e, returned_e2e = (f"LIBEO-{a.libeo_payment_id}" for a in sent)
    import_file(libeo_app, statement_for(pain001, debited=[paid_e2e], returns={returned_e2e: ("AC04", None)},
                                         booking_date=RUN_DAY))
    sync(meg_app)
    debited = f"Payée via Libeo le {RUN_DAY:%d/%m/%Y}"
    for shown in everywhere(client, invoice_id)[1:]:  # paid, it leaves « Règlements »
        assert debited in shown
    assert number not in page(client.get("/meg/achats/reglements"))
    invoice_page = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert debited in invoice_page and "Justificatif de paiement (PDF)" in invoice_page
    assert "le paiera" not in invoice_page
    proof = client.get(f"/meg/achats/factures/{invoice_id}/justificatif")
    assert "Justificatif de paiement" in unescape(proof.headers["Content-Disposition"])
    text = pdf_text(proof.data)
    assert f"Débité le {RUN_DAY:%d/%m/%Y}" in text and "écriture du relevé de la banque" in text

    # The events feed says the same states, with the bank's dates.
    from models.libeo import PaymentEvent, db

    with libeo_app.app_context():
        story = [json.loads(e.data) for e in db.session.scalars(select(PaymentEvent).order_by(PaymentEvent.seq))]
    mine = [(e["status"], e["paid_on"]) for e in story if f"LIBEO-{e['id']}" == paid_e2e]
    assert mine == [("scheduled", None), ("file_ready", None), ("transmitted", None), ("accepted", None),
                    ("paid", RUN_DAY.isoformat())]


def test_after_a_closed_account_meg_asks_for_the_suppliers_new_iban(connected, client, meg_app, libeo_app):
    """Release 2: after the bank rejected with AC04, « Payer » proposed the same IBAN with no warning."""
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    set_debtor_iban(libeo_app, connected["account_id"])
    pain001 = execute(libeo_app)
    e2e = only_end_to_end_id(meg_app)
    import_file(libeo_app, status_report_for(pain001, {e2e: ("RJCT", "AC04")}, texts={e2e: "Compte clos le 01/12"}))
    sync(meg_app)

    shown = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "Rejeté : compte du bénéficiaire clôturé (AC04)" in shown
    assert "Texte de la banque : « Compte clos le 01/12 »" in shown  # the bank's own words, as Libeo shows them
    assert "Demandez au fournisseur son nouvel IBAN" in shown and "Modifier l'IBAN de" in shown
    assert f"/meg/achats/factures/{invoice_id}?payer=" not in shown  # no « Payer » to the same IBAN
    assert "Nouvel IBAN du fournisseur nécessaire" in page(client.get("/meg/achats/reglements"))
    refused = page(client.post(f"/meg/achats/factures/{invoice_id}/payer", data={}, follow_redirects=True))
    assert "Demandez au fournisseur son nouvel IBAN" in refused

    # The supplier's new IBAN: « Payer » again.
    with meg_app.app_context():
        invoice = meg_db.session.get(SupplierInvoice, invoice_id)
        meg_db.session.execute(update(Supplier).where(Supplier.id == invoice.supplier_id)
                               .values(iban="FR7630006000011234567890189"))
        meg_db.session.commit()
    assert f"/meg/achats/factures/{invoice_id}?payer=" in page(client.get(f"/meg/achats/factures/{invoice_id}"))


def test_a_rejection_the_bank_gives_no_reason_for_reads_the_same_on_both_sides(connected, client, meg_app,
                                                                                libeo_app):
    """The whole file rejected, no reason code: « Rejeté par la banque » in both products (MEG said
    « Rejeté : Rejeté par la banque »)."""
    from models.libeo import Payment, db

    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    set_debtor_iban(libeo_app, connected["account_id"])
    pain001 = execute(libeo_app)
    import_file(libeo_app, status_report_for(pain001, group_status="RJCT", default="RJCT"))
    sync(meg_app)
    with libeo_app.app_context():
        libeo_label = db.session.scalar(select(Payment)).status_label
    assert libeo_label == "Rejeté par la banque"
    for shown in everywhere(client, invoice_id):
        assert "Rejeté par la banque" in shown and "Rejeté : Rejeté" not in shown


def test_meg_shows_a_state_it_does_not_know_in_libeos_words(connected, client, meg_app, libeo_app):
    from models.meg.libeo_link.attempts import PaymentState
    from models.meg.libeo_link.client import LibeoPaymentInfo

    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    with meg_app.app_context():
        attempt = meg_db.session.scalar(select(PaymentAttempt))
        attempt.record(LibeoPaymentInfo.from_json({
            "id": attempt.libeo_payment_id, "status": "held_by_bank", "status_label": "Retenu par la banque",
            "amount_cents": 100, "execution_date": date(2027, 1, 4).isoformat(), "invoice_external_id": "x",
            "paid_on": "pas une date", "version": 99,  # newer than what MEG holds: recorded
        }))
        assert attempt.status is PaymentState.UNKNOWN and attempt.status.holds_invoice
        meg_db.session.commit()
    for shown in everywhere(client, invoice_id):
        assert "Retenu par la banque" in shown


def test_an_upload_in_libeo_and_a_sync_keep_meg_in_step(connected, client, meg_app, libeo_app):
    """« Remises » → import a camt.054: MEG's invoice says the debit on the next sync pass."""
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    set_debtor_iban(libeo_app, connected["account_id"])
    pain001 = execute(libeo_app)
    client.post("/libeo/connexion", data={"email": "claire@boulangerie-martin.fr",
                                          "password": "mot-de-passe-solide-42"})
    uploaded = client.post("/libeo/remises/releve", data={"report": (BytesIO(statement_for(
        pain001, booking_date=RUN_DAY)), "camt054.xml")}, content_type="multipart/form-data", follow_redirects=True)
    assert "1 paiement débité" in page(uploaded)
    sync(meg_app)
    assert f"Payée via Libeo le {RUN_DAY:%d/%m/%Y}" in page(client.get(f"/meg/achats/factures/{invoice_id}"))


def test_the_paid_invoice_says_which_transfer_paid_it_as_libeo_does(connected, client, meg_app, libeo_app):
    """Once debited, MEG's invoice keeps its « Virement Libeo » line: the amount, the IBAN and the debit day
    Libeo's invoice shows (« Débité le … »), not only the state."""
    invoice_id, number, amount_cents = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    set_debtor_iban(libeo_app, connected["account_id"])
    import_file(libeo_app, statement_for(execute(libeo_app), booking_date=RUN_DAY))
    sync(meg_app)
    with meg_app.app_context():
        iban = meg_db.session.get(SupplierInvoice, invoice_id).supplier.iban
    amount = format_amount(amount_cents).replace("\u202f", " ").replace("\u00a0", " ")
    assert paid_to(client, invoice_id, "debited") == (
        f"{amount} vers {mask_iban(iban)} — {bank_name(iban)}, débité le {RUN_DAY:%d/%m/%Y}")
    client.post("/libeo/connexion", data={"email": "claire@boulangerie-martin.fr",
                                          "password": "mot-de-passe-solide-42"})
    libeo_invoice = page(client.get("/libeo/factures/"))
    assert f"Débité le {RUN_DAY:%d/%m/%Y}" in libeo_invoice and amount in libeo_invoice


def test_a_debit_day_the_statement_corrects_is_corrected_in_meg_too(connected, client, meg_app, libeo_app):
    """A status report written today said « done »; the statement books the transfer on RUN_DAY: MEG's lists and
    invoice page follow Libeo to the booking date (the payment's next version), at the sync's next reading of a
    company with nothing in flight (``SYNC_QUIET_SECONDS`` later)."""
    # Executed on a business day before today (RUN_DAY is today on a business day: nothing to correct then).
    executed = previous_business_day(paris_today() - timedelta(days=1))
    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    set_debtor_iban(libeo_app, connected["account_id"])
    pain001 = execute(libeo_app, executed)
    import_file(libeo_app, status_report_for(pain001))
    sync(meg_app)
    assert f"Payée via Libeo le {paris_today():%d/%m/%Y}" in page(client.get(f"/meg/achats/factures/{invoice_id}"))

    import_file(libeo_app, statement_for(pain001, kind="camt.053", booking_date=executed))
    from models.meg.libeo_link.sync import sync_pass

    with meg_app.app_context():
        later = utcnow() + timedelta(seconds=meg_app.config["SYNC_QUIET_SECONDS"] + 1)
        assert sync_pass(later).events == 1
    booked = f"Payée via Libeo le {executed:%d/%m/%Y}"
    for shown in everywhere(client, invoice_id)[1:]:  # paid, it is no longer in « Règlements »
        assert booked in shown and f"Payée via Libeo le {paris_today():%d/%m/%Y}" not in shown
    assert number not in page(client.get("/meg/achats/reglements"))


def test_a_closed_account_whose_transfer_was_debited_after_all_asks_for_no_new_iban_until_decided(
        connected, client, meg_app, libeo_app):
    """AC04 then a debit: MEG's invoice page asked for the supplier's new IBAN (« avant de payer à nouveau ») right
    above the box saying the money may have left."""
    invoice_id, number, pain001, e2e = paid_then_rejected(connected, client, meg_app, libeo_app, "AC04")
    import_file(libeo_app, statement_for(pain001, debited=[e2e], booking_date=RUN_DAY))
    sync_quiet(meg_app)
    shown = page(client.get(f"/meg/achats/factures/{invoice_id}?payer={invoice_id}"))
    assert "Anomalie bancaire à vérifier dans Libeo." in shown
    assert 'data-testid="new-iban-required"' not in shown and 'data-testid="payer-notice"' not in shown
    listed = page(client.get(f"/meg/achats/reglements?payer={invoice_id}"))
    assert (f"« Payer » ne s'ouvre pas pour la facture {number} : la banque a rejeté son dernier virement puis l'a "
            "dit débité ; une personne du compte Libeo doit vérifier et décider dans « Remises » avant qu'elle soit "
            "payée de nouveau.") in listed
    assert re.search(r'href="https?://[^"]+/libeo/remises/#anomalies">Ouvrir « Remises » dans Libeo</a>', listed)

    # MEG links to where it sends the person: the payment, and « Remises », in Libeo.
    links = {testid: path for path, testid in re.findall(r'href="https?://[^/"]+(/libeo/[^"]+)" '
                                                          r'data-testid="(libeo-[a-z]+)"', shown)}
    assert links["libeo-remittances"] == "/libeo/remises/#anomalies"
    client.post("/libeo/connexion", data={"email": "claire@boulangerie-martin.fr",
                                          "password": "mot-de-passe-solide-42"})
    assert f"Paiement de la facture <span class=\"nowrap\">{number}</span>" in page(client.get(links["libeo-payment"]))
    remittances = page(client.get("/libeo/remises/"))
    anomaly = re.search(r'action="(/libeo/remises/anomalies/\d+)"', remittances).group(1)
    kept = page(client.post(anomaly, data={"decision": "keep"}, follow_redirects=True))
    assert f"La facture {number} pourra de nouveau être payée une fois le nouvel IBAN" in kept
    sync_quiet(meg_app)
    shown = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert 'data-testid="new-iban-required"' in shown and "Anomalie bancaire" not in shown
    listed = page(client.get(f"/meg/achats/reglements?payer={invoice_id}"))
    assert (f"« Payer » ne s'ouvre pas pour la facture {number} : son dernier virement a été « Rejeté : compte du "
            "bénéficiaire clôturé (AC04) » ; enregistrez d'abord le nouvel IBAN de") in listed
    assert f'href="/meg/achats/factures/{invoice_id}">Ouvrir la facture</a>' in listed


def test_a_key_revoked_in_libeo_asks_first_and_meg_learns_the_outcome_once_a_new_key_is_pasted(
        connected, client, meg_app, libeo_app):
    """« Révoquer » revoked at the first click, saying nothing of MEG's payment in flight, which goes on
    in Libeo while MEG no longer hears of it."""
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    set_debtor_iban(libeo_app, connected["account_id"])
    client.post("/libeo/connexion", data={"email": "claire@boulangerie-martin.fr",
                                          "password": "mot-de-passe-solide-42"})
    assert 'href="/libeo/configuration/integrations/meg/revoquer"' in page(
        client.get("/libeo/configuration/integrations"))
    asked = page(client.get("/libeo/configuration/integrations/meg/revoquer"))
    assert "Révoquer la clé d'API MEG ?" in asked and "Oui, révoquer la clé" in asked
    assert ("1 paiement demandé par MEG est en cours. La révocation ne l'annule pas : il suit son cours dans "
            "Libeo, mais MEG n'en connaîtra l'issue qu'une fois une nouvelle clé collée dans MEG.") in asked
    sync(meg_app)
    assert "Libeo refuse" not in page(client.get("/meg/achats/options"))  # asking revoked nothing

    revoked = page(client.post("/libeo/configuration/integrations/meg/revoquer", follow_redirects=True))
    assert "La clé d'API MEG est révoquée" in revoked
    # MEG, not told yet, still offers « Annuler »: Libeo refuses the key, and MEG says the payment goes on.
    refused = page(client.post(f"/meg/achats/factures/{invoice_id}/annuler-paiement",
                               data={"next": f"/meg/achats/factures/{invoice_id}"}, follow_redirects=True))
    assert ("Le paiement n'a pas été annulé : il suit son cours dans Libeo, où il peut encore être annulé "
            "(« Paiements » → « Annuler »).") in refused
    sync(meg_app)
    interrupted = "le suivi du paiement en cours est interrompu"
    for shown in [*everywhere(client, invoice_id), page(client.get("/meg/achats/options"))]:
        assert interrupted in shown, shown  # « Règlements », « Factures », the invoice, « Options »
    for shown in everywhere(client, invoice_id):  # and where to paste a new key, behind the gear
        assert 'href="/meg/achats/options" data-testid="following-options">Ouvrir « Options »' in shown
    other_id = meg_libeo_invoices(meg_app)[1][0]  # nothing in flight: its page does not say it
    assert interrupted not in page(client.get(f"/meg/achats/factures/{other_id}"))
    refused = page(client.get(f"/meg/achats/factures/{invoice_id}/annuler-paiement", follow_redirects=True))
    assert "MEG ne peut pas annuler ce paiement" in refused and "« Paiements » → « Annuler »" in refused
    pain001 = execute(libeo_app)
    e2e = only_end_to_end_id(meg_app)
    import_file(libeo_app, statement_for(pain001, debited=[e2e], booking_date=RUN_DAY))
    sync(meg_app)
    debited = f"Payée via Libeo le {RUN_DAY:%d/%m/%Y}"
    assert debited not in page(client.get(f"/meg/achats/factures/{invoice_id}"))

    new_key = re.search(r"lbo_meg_\S+?(?=<)", page(client.post("/libeo/configuration/integrations/meg"))).group(0)
    assert "La connexion est établie" in page(client.post("/meg/achats/options", data={"api_key": new_key},
                                                          follow_redirects=True))
    sync(meg_app)
    for shown in everywhere(client, invoice_id)[1:]:
        assert debited in shown


def test_revoking_a_key_with_no_payment_of_meg_in_flight_says_so_and_nothing_without_a_key(
        connected, client, libeo_app):
    client.post("/libeo/connexion", data={"email": "claire@boulangerie-martin.fr",
                                          "password": "mot-de-passe-solide-42"})
    asked = page(client.get("/libeo/configuration/integrations/meg/revoquer"))
    assert "Aucun paiement demandé par MEG n'est en cours." in asked
    client.post("/libeo/configuration/integrations/meg/revoquer")
    again = page(client.get("/libeo/configuration/integrations/meg/revoquer", follow_redirects=True))
    assert "Aucune clé active à révoquer." in again and "Se connecter" in again


def test_a_debit_of_a_rejected_transfer_is_told_in_meg_and_holds_payer_until_libeo_decides(
        connected, client, meg_app, libeo_app):
    """MEG read « Rejeté » and offered « Payer » again while Libeo held an anomaly: the bank's statement
    debited that very transfer (paying again could pay the supplier twice)."""
    invoice_id, number, pain001, e2e = paid_then_rejected(connected, client, meg_app, libeo_app, "MS03")
    sync(meg_app)
    assert f"payer={invoice_id}#confirmer" in page(client.get("/meg/achats/reglements"))  # « Payer » again

    import_file(libeo_app, statement_for(pain001, debited=[e2e], booking_date=RUN_DAY))
    sync_quiet(meg_app)  # nothing in flight in MEG: its feed is read at the quiet companies' pace
    settlements, invoices, invoice_page = everywhere(client, invoice_id)
    for shown in (settlements, invoices):
        assert "Rejeté" in shown and "Anomalie bancaire à vérifier dans Libeo" in shown
    assert f"payer={invoice_id}#confirmer" not in settlements
    assert "Anomalie bancaire à vérifier dans Libeo." in invoice_page
    assert "D'ici là, ne réglez pas cette facture autrement." in invoice_page
    assert "Ce que Libeo en dit : « L'avis de débit (camt.054)" in invoice_page  # Libeo's own words
    assert ("« Payer » attend qu'une personne du compte Libeo décide de l'anomalie bancaire de ce virement (dans "
            "Libeo, « Remises »).") in invoice_page
    # Nor is it settled another way meanwhile: its mode, supplier and amount are locked.
    edit = page(client.get(f"/meg/achats/factures/{invoice_id}/modifier"))
    assert "le dernier virement de cette facture, rejeté, a peut-être été débité" in edit
    with meg_app.app_context():
        attempts = meg_db.session.scalar(select(func.count(PaymentAttempt.id)))
    refused = page(client.post(f"/meg/achats/factures/{invoice_id}/payer", data={"next": "/meg/achats/reglements"},
                               follow_redirects=True))
    assert "a peut-être été débité" in refused
    with meg_app.app_context():
        assert meg_db.session.scalar(select(func.count(PaymentAttempt.id))) == attempts  # nothing asked of Libeo

    exported = client.get("/meg/achats/factures/export.csv").get_data(as_text=True)
    assert "Rejeté : raison non précisée par la banque (MS03) — anomalie bancaire à vérifier dans Libeo" in exported

    # Libeo refuses it too, whoever asks (its own pages, MEG's API): the Libeo invoice of MEG's.
    from models.libeo import Invoice, db
    from models.libeo.errors import Conflict
    from models.libeo.payments.order import active_payment, already_paid

    with libeo_app.app_context():
        libeo_invoice = db.session.scalar(select(Invoice).where(Invoice.number == number))
        refusal = already_paid(number, active_payment(libeo_invoice.id))
        assert isinstance(refusal, Conflict) and refusal.code == "bank_anomaly"

    client.post("/libeo/connexion", data={"email": "claire@boulangerie-martin.fr",
                                          "password": "mot-de-passe-solide-42"})
    libeo_page = page(client.get(f"/libeo/factures/{libeo_invoice.id}"))
    assert "La facture ne peut pas être payée de nouveau avant votre décision" in libeo_page
    assert "Payer par virement" not in libeo_page
    libeo_list = page(client.get("/libeo/factures/"))
    assert 'data-testid="invoice-to-check"' in libeo_list
    assert "Non sélectionnable : anomalie bancaire à vérifier" in libeo_list
    remittances = page(client.get("/libeo/remises/"))
    assert "demandé par MEG, qui affiche cette anomalie et ne propose plus « Payer » pour cette facture" in remittances
    anomaly = re.search(r'action="(/libeo/remises/anomalies/\d+)"', remittances).group(1)
    assert "débité" in page(client.post(anomaly, data={"decision": "apply"}, follow_redirects=True))
    sync_quiet(meg_app)
    debited = f"Payée via Libeo le {RUN_DAY:%d/%m/%Y}"
    for shown in everywhere(client, invoice_id)[1:]:
        assert debited in shown and "Anomalie bancaire" not in shown


def test_a_debit_of_a_rejected_transfer_after_paying_again_holds_the_new_payment_until_decided(
        connected, client, meg_app, libeo_app):
    """Rejected, paid again, then the bank's statement debits the first transfer after all: the second payment
    went into the next SEPA file (the supplier paid twice) while both products showed it « Programmé » and MEG
    said nothing of the anomaly. It now waits, on both sides, for the person who decides in « Remises »."""
    from models.libeo import Payment, PaymentStatus, db

    invoice_id, number, pain001, e2e = paid_then_rejected(connected, client, meg_app, libeo_app, "MS03")
    sync_quiet(meg_app)
    pay(client, invoice_id)  # paid again, scheduled
    import_file(libeo_app, statement_for(pain001, debited=[e2e], booking_date=RUN_DAY))
    sync_quiet(meg_app)
    settlements, invoices, invoice_page = everywhere(client, invoice_id)
    for shown in (settlements, invoices):
        assert "Anomalie bancaire à vérifier dans Libeo" in shown
    assert ("Un fichier de la banque indique que le virement précédent de cette facture, rejeté, a peut-être été "
            "débité ; Libeo n'envoie pas ce paiement à la banque") in invoice_page
    assert "Ce que Libeo en dit : « Virement précédent de cette facture : l'avis de débit" in invoice_page
    assert "(tel que Libeo le paiera, une fois l'anomalie bancaire décidée)" in invoice_page

    from models.libeo.payments.sepa import execute_due_payments

    with libeo_app.app_context():  # the next execution leaves it out of its file, and says why
        report = execute_due_payments(None, paris_today() + timedelta(days=40))
        assert report.batches == [] and report.held_by_anomaly == [("Boulangerie Martin SARL", 1)]
        again = db.session.scalar(select(Payment).order_by(Payment.id.desc()))
        assert again.status is PaymentStatus.SCHEDULED and again.batch_id is None

    client.post("/libeo/connexion", data={"email": "claire@boulangerie-martin.fr",
                                          "password": "mot-de-passe-solide-42"})
    payments = page(client.get("/libeo/paiements/"))
    assert "en attente : anomalie bancaire à vérifier sur le virement précédent de cette facture" in payments
    assert 'data-testid="payment-to-check"' in payments
    assert "Libeo n'envoie pas ce paiement à la banque avant votre décision" in page(
        client.get(f"/libeo/paiements/{again.id}"))

    remittances = page(client.get("/libeo/remises/"))
    held_along = f'Un nouveau paiement de cette facture, <a href="/libeo/paiements/{again.id}">« Programmé le'
    assert held_along in remittances
    assert ("attend cette décision : en gardant l'état rejeté, il partira à la banque. Si la banque a bien débité ce "
            "virement, annulez d'abord ce nouveau paiement, puis « La banque a raison ».") in remittances
    assert "peut de nouveau être payée" not in remittances  # it was paid again already
    # Nor is MEG said to no longer offer « Payer »: the new payment is there already.
    assert "demandé par MEG, qui affiche cette anomalie jusqu'à votre décision." in remittances
    assert "ne propose plus « Payer »" not in remittances

    # The bank confirms the debit: the person cancels the second payment, then says the first debited.
    assert "La facture reste bloquée tant que l'anomalie bancaire de son virement précédent n'est pas décidée" in page(
        client.get(f"/libeo/paiements/{again.id}/annuler"))
    cancelled = page(client.post(f"/libeo/paiements/{again.id}/annuler", data={"reason": ""}, follow_redirects=True))
    assert "annulé" in cancelled.lower()
    with libeo_app.app_context():
        libeo_invoice_id = db.session.get(Payment, again.id).invoice_id
    locked = page(client.get(f"/libeo/factures/{libeo_invoice_id}"))
    assert "Payer par virement" not in locked and "À payer" not in locked  # the first transfer may have paid it
    assert "Rejeté" in locked
    remittances = page(client.get("/libeo/remises/"))
    assert "demandé par MEG, qui affiche cette anomalie et ne propose plus « Payer » pour cette facture" in remittances
    anomaly = re.search(r'action="(/libeo/remises/anomalies/\d+)"', remittances).group(1)
    decided = page(client.post(anomaly, data={"decision": "apply"}, follow_redirects=True))
    assert "passé de « Rejeté : raison non précisée par la banque (MS03) » à « Débité le" in decided
    paid = page(client.get(f"/libeo/factures/{libeo_invoice_id}"))
    assert f"Débité le {RUN_DAY:%d/%m/%Y}" in paid and "À payer" not in paid
    execute(libeo_app)
    with libeo_app.app_context():
        assert db.session.get(Payment, again.id).status is PaymentStatus.CANCELLED
        assert db.session.get(Payment, again.id).bank_anomaly is None
    sync_quiet(meg_app)
    for shown in everywhere(client, invoice_id)[1:]:
        assert f"Payée via Libeo le {RUN_DAY:%d/%m/%Y}" in shown and "Anomalie bancaire" not in shown


def test_a_payment_made_again_goes_to_the_bank_once_the_anomaly_is_kept_as_rejected(
        connected, client, meg_app, libeo_app):
    from models.libeo import Payment, PaymentStatus, db

    invoice_id, number, pain001, e2e = paid_then_rejected(connected, client, meg_app, libeo_app, "MS03")
    sync_quiet(meg_app)
    pay(client, invoice_id)
    import_file(libeo_app, statement_for(pain001, debited=[e2e], booking_date=RUN_DAY))
    client.post("/libeo/connexion", data={"email": "claire@boulangerie-martin.fr",
                                          "password": "mot-de-passe-solide-42"})
    remittances = page(client.get("/libeo/remises/"))
    anomaly = re.search(r'action="(/libeo/remises/anomalies/\d+)"', remittances).group(1)
    client.post(anomaly, data={"decision": "keep"}, follow_redirects=True)  # the bank says: not debited
    execute(libeo_app)
    with libeo_app.app_context():
        again = db.session.scalar(select(Payment).order_by(Payment.id.desc()))
        assert again.status is PaymentStatus.FILE_READY and again.bank_anomaly is None
    sync_quiet(meg_app)
    for shown in everywhere(client, invoice_id):
        assert "Anomalie bancaire" not in shown


def test_a_status_report_listing_a_transfer_both_settled_and_rejected_is_an_anomaly_on_both_sides(
        connected, client, meg_app, libeo_app):
    """Such a file was counted « 1 paiement dont la banque ne dit rien encore »: no anomaly, nothing for anyone
    to decide, the transfer « Transmis à la banque » for good."""
    from models.libeo import Payment, PaymentStatus, db

    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    set_debtor_iban(libeo_app, connected["account_id"])
    pain001 = execute(libeo_app)
    e2e = only_end_to_end_id(meg_app)
    settled = status_report_for(pain001, {e2e: ("ACSC", None)}).decode()
    rejected = status_report_for(pain001, {e2e: ("RJCT", "AM04")}).decode()
    listed = r"<TxInfAndSts>\s*<OrgnlEndToEndId>" + re.escape(e2e) + r"</OrgnlEndToEndId>.*?</TxInfAndSts>"
    entry = re.search(listed, settled, re.S).group(0)
    both = settled.replace(entry, entry + re.search(listed, rejected, re.S).group(0))
    result = import_file(libeo_app, both.encode())
    assert len(result.anomalies) == 1 and result.pending == 0
    with libeo_app.app_context():
        payment = db.session.scalar(select(Payment))
        assert payment.status is PaymentStatus.TRANSMITTED and payment.bank_anomaly

    sync_quiet(meg_app)
    settlements, invoices, invoice_page = everywhere(client, invoice_id)
    assert "Anomalie bancaire à vérifier dans Libeo" in invoices
    assert "à la fois « débité » (ACSC) et « Rejeté : provision insuffisante (AM04) »" in invoice_page
    client.post("/libeo/connexion", data={"email": "claire@boulangerie-martin.fr",
                                          "password": "mot-de-passe-solide-42"})
    remittances = page(client.get("/libeo/remises/"))
    # The card's first words say the report contradicts itself, not that it contradicts Libeo.
    assert ("Un relevé de la banque se contredit : il dit un même virement à la fois débité et rejeté. Libeo n'a "
            "rien changé") in remittances
    assert "autre chose que ce que Libeo sait" not in remittances
    # The report said both: the choice is named by what the person found at the bank, not « La banque a raison ».
    assert "s'il a été rejeté, passez-le en « Rejeté » dans « Remises » ; s'il a été débité" in remittances
    assert "Rejeté par la banque : passer en « Rejeté »" in remittances and "La banque a raison" not in remittances
    anomaly = re.search(r'action="(/libeo/remises/anomalies/\d+)"', remittances).group(1)
    assert "Rejeté" in page(client.post(anomaly, data={"decision": "apply"}, follow_redirects=True))
    sync_quiet(meg_app)
    assert "provision insuffisante" in everywhere(client, invoice_id)[2]


def test_a_suppliers_new_iban_reaches_libeo_once_the_payment_that_held_the_invoice_ends(
        connected, client, meg_app, libeo_app):
    """Changed in MEG while a payment held the invoice, the supplier's IBAN stayed the old one in Libeo after
    that payment was rejected: Libeo's own « Payer » then paid the old IBAN, and held nothing."""
    from tests.integration.conftest import libeo_invoices

    new_iban = "FR7630004008220000001583859"
    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    with meg_app.app_context():
        invoice = meg_db.session.get(SupplierInvoice, invoice_id)
        supplier_id, name, old_iban = invoice.supplier_id, invoice.supplier.name, invoice.supplier.iban
    client.post(f"/meg/achats/fournisseurs/{supplier_id}/modifier", data={"name": name, "iban": new_iban, "bic": ""},
                follow_redirects=True)
    set_debtor_iban(libeo_app, connected["account_id"])
    pain001 = execute(libeo_app)
    assert old_iban in pain001.decode()  # the payment under way pays what it was asked to
    import_file(libeo_app, status_report_for(pain001, {only_end_to_end_id(meg_app): ("RJCT", "MS03")}))
    sync(meg_app)
    sync_quiet(meg_app)
    [held] = [i for i in libeo_invoices(libeo_app) if i["number"] == number]
    assert held["supplier_iban"] == new_iban
