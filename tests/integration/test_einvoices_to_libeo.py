"""An imported e-invoice, paid from MEG: its file reaches Libeo (after « Payer » and a sync pass) and
shows on Libeo's invoice page; once the SEPA file is made, the « Justificatif de paiement » is
downloaded from MEG's invoice page (through Libeo's API) as from Libeo's payment page."""

from __future__ import annotations

import io
from dataclasses import replace
from html import unescape
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from core.dates import paris_today
from devtools.einvoice_samples import cii_xml, facturx_pdf, sample_invoice
from models.meg import SupplierInvoice
from models.meg import db as meg_db
from models.meg.libeo_link.outbox import OutboxMessage
from tests.factories import meg_company, meg_invoice, meg_supplier
from tests.helpers import sync
from tests.html_forms import form_values, plain

from .conftest import libeo_back, libeo_down

LIBEO_PASSWORD = "mot-de-passe-solide-42"


def import_invoice(client, content: bytes, filename: str) -> tuple[int, str]:
    """Through the pages, as a person: upload, then « Enregistrer la facture » as proposed."""
    answer = client.post("/meg/achats/factures/importer", data={"file": (BytesIO(content), filename)},
                         content_type="multipart/form-data")
    assert answer.status_code == 302, plain(answer.get_data(as_text=True))[-800:]
    location = answer.headers["Location"]
    page = client.get(location).get_data(as_text=True)
    values = form_values(page)
    saved = client.post(location, data=values)
    assert saved.status_code == 302, plain(saved.get_data(as_text=True))[-1500:]
    return int(saved.headers["Location"].rsplit("/", 1)[1]), unescape(page)


def pay(client, invoice_id: int) -> None:
    answer = client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True)
    assert "Paiement programmé" in plain(answer.get_data(as_text=True))


def libeo_invoice(libeo_app, invoice_id: int):
    from models.libeo import Invoice, InvoiceDocument, db

    with libeo_app.app_context():
        invoice = db.session.scalar(select(Invoice).where(Invoice.external_id == f"meg-{invoice_id}"))
        document = db.session.scalar(select(InvoiceDocument).where(InvoiceDocument.invoice_id == invoice.id))
        return invoice.id, (document.content if document else None)


def libeo_login(client):
    answer = client.post("/libeo/connexion", data={"email": "claire@boulangerie-martin.fr", "password": LIBEO_PASSWORD})
    assert answer.status_code == 302


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages)
                    .replace("\u00a0", " ").replace("\u202f", " ").split())


def test_connected_company_gets_virement_par_libeo_proposed(connected, client):
    _, page = import_invoice(client, facturx_pdf(sample_invoice(), "en16931"), "f.pdf")
    assert form_values(page)["payment_mode"] == "LIBEO"
    assert "l'entreprise est connectée à Libeo" in plain(page)


def test_the_factur_x_file_reaches_libeo_after_payer_and_a_sync_pass(connected, client, apps, meg_app, libeo_app):
    content = facturx_pdf(sample_invoice(), "en16931")
    invoice_id, _ = import_invoice(client, content, "facture-minoterie.pdf")
    sync(meg_app)  # nothing to send: Libeo does not know the invoice
    with meg_app.app_context():
        assert meg_db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0

    pay(client, invoice_id)
    libeo_id, document = libeo_invoice(libeo_app, invoice_id)
    assert document is None  # « Payer » does not wait for the file
    report = sync(meg_app)
    assert report.delivered == 1
    assert libeo_invoice(libeo_app, invoice_id)[1] == content

    libeo_login(client)
    page = plain(client.get(f"/libeo/factures/{libeo_id}").get_data(as_text=True))
    assert "Document Facture (PDF)" in page
    download = client.get(f"/libeo/factures/{libeo_id}/document.pdf")
    assert download.status_code == 200 and download.data == content


def test_an_invoice_partly_paid_in_advance_reaches_libeo_with_its_totals_and_libeo_pays_the_amount_due(
        connected, client, meg_app, libeo_app):
    from decimal import Decimal

    from devtools.einvoice_samples import Line
    from models.libeo import Invoice, Payment, db

    # 636,16 € HT at 5,5 %: 671,15 € TTC, of which 201,00 € paid with the order.
    deposit = replace(sample_invoice(number="FA-2026-0671", prepaid_cents=20_100),
                      lines=(Line("Farine T65, sacs de 25 kg", 1, 63_616, Decimal("5.5")),))
    invoice_id, _ = import_invoice(client, cii_xml(deposit), "acompte.xml")
    note = "Montant 470,15 € : le net à payer, pas le total TTC de 671,15 € (201,00 € déjà payés)"
    for page in (f"/meg/achats/factures/{invoice_id}?payer={invoice_id}", f"/meg/achats/reglements?payer={invoice_id}"):
        assert note in plain(client.get(page).get_data(as_text=True))  # « Payer »'s confirmation says so
    listed = plain(client.get("/meg/achats/reglements").get_data(as_text=True))
    assert "671,15 € net à payer 470,15 €" in listed  # « Règlements » shows both, as « Factures » does
    exported = client.get("/meg/achats/reglements/export.csv").get_data(as_text=True).lstrip("\ufeff").splitlines()
    header, row = exported[0].split(";"), next(line for line in exported if "FA-2026-0671" in line).split(";")
    assert (row[header.index("Montant TTC")], row[header.index("Net à payer")]) == ("671,15", "470,15")
    selection = plain(client.get(f"/meg/achats/reglements/selection?facture={invoice_id}").get_data(as_text=True))
    assert "470,15 € net à payer, TTC 671,15 €" in selection
    pay(client, invoice_id)
    with libeo_app.app_context():
        invoice = db.session.scalar(select(Invoice).where(Invoice.external_id == f"meg-{invoice_id}"))
        payment = db.session.scalar(select(Payment).where(Payment.invoice_id == invoice.id))
        assert (invoice.net_cents, invoice.vat_cents, invoice.total_cents, invoice.prepaid_cents,
                invoice.rounding_cents, invoice.amount_cents) == (63_616, 3_499, 67_115, 20_100, None, 47_015)
        assert payment.amount_cents == 47_015
        libeo_id = invoice.id

    sync(meg_app)  # the summary PDF MEG draws from the XML says the same
    assert "Montant TTC 671,15 € Déjà payé 201,00 € Net à payer 470,15 €" in pdf_text(
        libeo_invoice(libeo_app, invoice_id)[1])
    libeo_login(client)
    page = plain(client.get(f"/libeo/factures/{libeo_id}").get_data(as_text=True))
    assert "Total HT 636,16 € TVA 34,99 € Montant TTC 671,15 € Déjà payé 201,00 € Net à payer 470,15 €" in page
    assert "671,15 € net à payer 470,15 €" in plain(client.get("/libeo/factures/").get_data(as_text=True))


def test_an_xml_invoice_reaches_libeo_as_a_readable_pdf(connected, client, meg_app, libeo_app):
    invoice = replace(sample_invoice(), number="FA-XML-7")
    xml = cii_xml(invoice)
    invoice_id, _ = import_invoice(client, xml, "facture.xml")
    pay(client, invoice_id)
    sync(meg_app)
    _, document = libeo_invoice(libeo_app, invoice_id)
    assert document.startswith(b"%PDF-")
    text = pdf_text(document)
    assert "Facture FA-XML-7" in text and "Minoterie Dupuis" in text and "464,40 €" in text
    assert "Le fichier XML original, qui fait foi, est conservé dans MEG" in text
    # MEG keeps the XML as received.
    assert client.get(f"/meg/achats/factures/{invoice_id}/fichier").data == xml


def test_the_file_waits_in_order_while_libeo_is_down(connected, client, apps, meg_app, libeo_app):
    content = facturx_pdf(sample_invoice(), "basic")
    invoice_id, _ = import_invoice(client, content, "f.pdf")
    pay(client, invoice_id)
    saved = libeo_down(apps)
    report = sync(meg_app)
    assert (report.delivered, report.postponed) == (0, 1)
    libeo_back(apps, saved)
    with meg_app.app_context():
        meg_db.session.query(OutboxMessage).update({OutboxMessage.next_attempt_at: OutboxMessage.created_at})
        meg_db.session.commit()
    assert sync(meg_app).delivered == 1
    assert libeo_invoice(libeo_app, invoice_id)[1] == content


def test_an_edit_after_payer_does_not_drop_the_queued_file(connected, client, meg_app, libeo_app):
    content = facturx_pdf(sample_invoice(), "en16931")
    invoice_id, _ = import_invoice(client, content, "f.pdf")
    pay(client, invoice_id)
    with meg_app.app_context():
        invoice = meg_db.session.get(SupplierInvoice, invoice_id)
        data = {"number": "FA-RENUMEROTEE", "supplier_id": invoice.supplier_id,
                "issue_date": invoice.issue_date.isoformat(), "due_date": invoice.due_date.isoformat(),
                "amount": "464,40", "payment_mode": "LIBEO"}
    assert client.post(f"/meg/achats/factures/{invoice_id}/modifier", data=data).status_code == 302
    from models.libeo import Invoice, db

    def number_in_libeo():
        with libeo_app.app_context():
            return db.session.scalar(select(Invoice.number).where(Invoice.external_id == f"meg-{invoice_id}"))

    # The file (queued by « Payer ») and the edit each carry their whole content: one pass sends both.
    assert sync(meg_app).delivered == 2
    assert libeo_invoice(libeo_app, invoice_id)[1] == content and number_in_libeo() == "FA-RENUMEROTEE"
    assert sync(meg_app).delivered == 0


def typed_by_hand(meg_app, number: str) -> int:
    """A « Virement par Libeo » invoice of Minoterie Dupuis (the samples' seller) typed in MEG, no file."""
    with meg_app.app_context():
        company = meg_company("Boulangerie Martin SARL")
        sample = sample_invoice()
        invoice = meg_invoice(company, meg_supplier(company, "Minoterie Dupuis"), number,
                              amount_cents=sample.due_payable_cents, issue_date=sample.issue_date,
                              due_date=sample.due_date)
        meg_db.session.commit()
        return invoice.id


def test_a_file_joining_an_invoice_libeo_pays_follows_it_and_so_does_its_replacement(
        connected, client, meg_app, libeo_app):
    number = "FA-2026-0142-SAISIE"
    invoice_id = typed_by_hand(meg_app, number)
    pay(client, invoice_id)
    sync(meg_app)
    assert libeo_invoice(libeo_app, invoice_id)[1] is None  # typed by hand: no file yet

    first = facturx_pdf(replace(sample_invoice(), number=number), "en16931")
    for content, name in ((first, "recue.pdf"), (cii_xml(replace(sample_invoice(), number=number)), "corrigee.xml")):
        answer = client.post("/meg/achats/factures/importer", data={"file": (BytesIO(content), name)},
                             content_type="multipart/form-data")
        assert client.post(answer.headers["Location"] + "/joindre").status_code == 302
        assert sync(meg_app).delivered == 1
    document = libeo_invoice(libeo_app, invoice_id)[1]
    assert document != first and f"Facture {number}" in pdf_text(document)  # the replacement, drawn from its XML


# --- the « Justificatif de paiement » from MEG --------------------------------------------------------


def set_debtor_iban(libeo_app, account_id: int) -> None:
    from models.libeo import Account, db

    with libeo_app.app_context():
        db.session.get(Account, account_id).debtor_iban = "FR7630004008220000001583859"
        db.session.commit()


def execute(libeo_app):
    from models.libeo import Payment, db
    from models.libeo.payments.sepa import execute_due_payments

    with libeo_app.app_context():
        day = max(db.session.scalar(select(func.max(Payment.execution_date))), paris_today())
        execute_due_payments(None, day)
        payment = db.session.scalar(select(Payment).order_by(Payment.id.desc()))
        return payment.id, payment.end_to_end_id, payment.batch.message_id


def test_the_transfer_order_from_meg_after_execution(connected, client, apps, meg_app, libeo_app):
    invoice_id, _ = import_invoice(client, facturx_pdf(sample_invoice(), "en16931"), "f.pdf")
    pay(client, invoice_id)
    page = plain(client.get(f"/meg/achats/factures/{invoice_id}").get_data(as_text=True))
    assert "Justificatif de paiement" not in page and "Ordre de virement" not in page  # scheduled: nothing yet

    set_debtor_iban(libeo_app, connected["account_id"])
    payment_id, end_to_end, message_id = execute(libeo_app)
    sync(meg_app)
    page = client.get(f"/meg/achats/factures/{invoice_id}").get_data(as_text=True)
    assert "Fichier prêt — à transmettre à votre banque" in plain(page)
    assert f'href="/meg/achats/factures/{invoice_id}/justificatif"' in page
    assert "Ordre de virement (PDF)" in plain(page) and "Justificatif de paiement" not in plain(page)

    answer = client.get(f"/meg/achats/factures/{invoice_id}/justificatif")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert "Ordre de virement FA-2026-0142.pdf" in unescape(answer.headers["Content-Disposition"])
    text = pdf_text(answer.data)
    assert "464,40 €" in text and end_to_end in text and message_id in text
    assert "Boulangerie Martin SARL" in text and "Minoterie Dupuis" in text
    assert "Ordre de virement" in text and "Fichier prêt — à transmettre à votre banque" in text

    # And the same document from Libeo's payment page.
    libeo_login(client)
    assert "Ordre de virement (PDF)" in plain(client.get(f"/libeo/paiements/{payment_id}").get_data(as_text=True))
    from_libeo = client.get(f"/libeo/paiements/{payment_id}/justificatif.pdf")
    assert end_to_end in pdf_text(from_libeo.data) and "464,40 €" in pdf_text(from_libeo.data)


def test_libeo_unreachable_when_the_receipt_is_asked(connected, client, apps, meg_app, libeo_app):
    invoice_id, _ = import_invoice(client, facturx_pdf(sample_invoice(), "en16931"), "f.pdf")
    pay(client, invoice_id)
    set_debtor_iban(libeo_app, connected["account_id"])
    execute(libeo_app)
    sync(meg_app)
    saved = libeo_down(apps)
    answer = client.get(f"/meg/achats/factures/{invoice_id}/justificatif", follow_redirects=True)
    libeo_back(apps, saved)
    assert answer.status_code == 200
    assert "Libeo est injoignable pour le moment : le document (ordre de virement) n'a pas pu être téléchargé." in \
        plain(answer.get_data(as_text=True))


@pytest.mark.parametrize("who", ["compta@boulangerie-martin.fr"])
def test_another_user_of_the_company_downloads_it_too_but_not_another_company(connected, client, meg_app, libeo_app,
                                                                               meg_auth, who):
    invoice_id, _ = import_invoice(client, facturx_pdf(sample_invoice(), "en16931"), "f.pdf")
    pay(client, invoice_id)
    set_debtor_iban(libeo_app, connected["account_id"])
    execute(libeo_app)
    sync(meg_app)
    meg_auth.logout()
    meg_auth.login(who)
    assert client.get(f"/meg/achats/factures/{invoice_id}/justificatif").mimetype == "application/pdf"
    meg_auth.logout()
    meg_auth.login("gerant@garage-leroy.fr")
    assert client.get(f"/meg/achats/factures/{invoice_id}/justificatif").status_code == 404
