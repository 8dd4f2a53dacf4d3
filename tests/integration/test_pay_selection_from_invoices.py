"""« Payer la sélection » from MEG « Factures », filtered on what is payable: the boxes, « Sélectionner
les N factures du filtre » across pages, and the same confirmation and result as « Règlements »."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from models.meg import SupplierInvoice
from models.meg import db as meg_db

from .conftest import libeo_payments, meg_libeo_invoices
from .test_pay_selection import SELECTION, add_invoices

INVOICES = "/meg/achats/"


def page(response) -> str:
    return unescape(response.get_data(as_text=True))


def boxes(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'class="select-row" name="facture" value="(\d+)"', html)]


def filter_button(client, html: str) -> tuple[str, list[int], int] | None:
    """The button's words, the invoices it selects (read as its script reads them) and their total."""
    found = re.search(r'data-select-filter data-url="([^"]+)">([^<]+)</button>', html)
    if not found:
        return None
    selected = client.get(found.group(1)).get_json()
    return found.group(2), selected["ids"], selected["cents"]


def filter_form(html: str) -> list[tuple[str, str]]:
    """The fields of the form the button submits without script."""
    held = html.split('<form id="whole-filter"')[1].split("</form>")[0]
    return re.findall(r'name="([^"]+)" value="([^"]*)"', held)


def test_payable_invoices_have_a_box_the_others_say_why(connected, client, meg_app):
    libeo = meg_libeo_invoices(meg_app)
    html = page(client.get(INVOICES))
    assert "Payer la sélection" in html and "Tout sélectionner" in html
    assert sorted(boxes(html)) == sorted(row[0] for row in libeo)
    assert 'title="Non sélectionnable : mode de règlement « Chèque »"' in html
    assert '<span class="visually-hidden">Non sélectionnable : mode de règlement « Chèque »</span>' in html
    assert filter_button(client, html) is None  # no filter on: the page's boxes are the selection


def test_the_filters_payable_invoices_are_offered_across_pages(connected, client, meg_app):
    add_invoices(meg_app, 30)
    libeo = meg_libeo_invoices(meg_app)
    html = page(client.get(INVOICES, query_string={"mode": "libeo", "etat": "a_regler", "tri": "echeance"}))
    assert len(boxes(html)) == 25  # one page
    words, ids, cents = filter_button(client, html)
    assert words == f"Sélectionner les {len(libeo)} factures du filtre"
    assert sorted(ids) == sorted(row[0] for row in libeo)
    assert cents == sum(row[2] for row in libeo)
    # A filter that leaves no payable invoice offers none.
    assert filter_button(client, page(client.get(INVOICES, query_string={"mode": "cheque"}))) is None


def test_a_selection_from_invoices_is_paid_and_every_list_says_so(connected, client, meg_app, libeo_app):
    ids = [row[0] for row in meg_libeo_invoices(meg_app)][:3]
    html = page(client.get(INVOICES, query_string={"mode": "libeo"}))
    assert set(ids) <= set(boxes(html))
    selection = {"facture": [str(i) for i in ids], "depuis": "factures"}
    confirmation = page(client.get(SELECTION, query_string=selection))
    assert "Confirmer les 3 paiements" in confirmation
    assert '<input type="hidden" name="depuis" value="factures">' in confirmation
    assert '<a class="button" href="/meg/achats/">Annuler</a>' in confirmation  # back to the list it came from
    result = client.post(f"{SELECTION}/confirmer", data=selection)
    shown = page(client.get(result.headers["Location"]))
    assert "3 factures : 3 programmées" in shown
    assert '<a class="button" href="/meg/achats/">Retour aux factures</a>' in shown
    assert [p["status"] for p in libeo_payments(libeo_app)] == ["scheduled"] * 3
    after = page(client.get(INVOICES, query_string={"etat": "programmees"}))
    assert not set(ids) & set(boxes(after))
    assert after.count("Programmé le") == 3
    assert "Non sélectionnable : paiement déjà en cours" in after
    assert "En cours (3)" in after

    # Debited: « Payée via Libeo » in « Payées », and its box says so (not « en cours »).
    from models.meg import db
    from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState

    with meg_app.app_context():
        paid = db.session.scalars(select(PaymentAttempt).where(PaymentAttempt.invoice_id == ids[0])).one()
        paid.status, paid.paid_on = PaymentState.PAID, paid.execution_date
        db.session.commit()
    payees = page(client.get(INVOICES, query_string={"etat": "payees"}))
    assert "Payée via Libeo le" in payees and "Non sélectionnable : facture payée" in payees
    assert "Non sélectionnable : paiement déjà en cours" not in payees


def test_a_filter_larger_than_a_selection_offers_its_first_ones(connected, client, meg_app):
    from models.meg.libeo_link.selection import MAX_SELECTION

    add_invoices(meg_app, MAX_SELECTION + 5)
    html = page(client.get(INVOICES, query_string={"mode": "libeo", "tri": "echeance"}))
    words, ids, _cents = filter_button(client, html)
    assert words == f"Sélectionner les {MAX_SELECTION} premières factures du filtre"
    assert len(ids) == MAX_SELECTION
    with meg_app.app_context():
        due = dict(meg_db.session.execute(select(SupplierInvoice.id, SupplierInvoice.due_date)
                                          .where(SupplierInvoice.id.in_(ids))).all())
    assert [due[i] for i in ids] == sorted(due[i] for i in ids)  # in the list's order: the earliest due
    # Without script, the button opens the confirmation of those very invoices: the filter read again.
    fields = filter_form(html)
    assert ("filtre", "1") in fields and ("mode", "libeo") in fields and ("tri", "echeance") in fields
    confirmation = page(client.get(SELECTION, query_string=fields))
    # All of them confirmed together; the free plan's five of the month paid, the others said left out.
    assert "Confirmer les 5 paiements" in confirmation
    assert f"{MAX_SELECTION - 5} factures ne seront pas payées (les dernières de la liste)" in confirmation
    with meg_app.app_context():
        numbers = meg_db.session.scalars(select(SupplierInvoice.number).where(SupplierInvoice.id.in_(ids))).all()
    assert all(number in confirmation for number in numbers)


def test_the_filter_offers_what_payer_would_take_again_and_nothing_else(connected, client, meg_app):
    """Invoices sent to Libeo before: a payment cancelled, or a transfer rejected for want of money, may be
    paid again; one refused as a possible fraud, or rejected for its account while the supplier keeps that
    IBAN, may not; one under way is not to settle. The button offers exactly the invoices with a box."""
    import uuid

    from models.meg import Supplier, User
    from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState

    add_invoices(meg_app, 6)
    ids = [row[0] for row in meg_libeo_invoices(meg_app)]
    with meg_app.app_context():
        admin = meg_db.session.scalar(select(User).where(User.email == "admin@boulangerie-martin.fr"))
        iban = meg_db.session.scalar(select(Supplier.iban).join(SupplierInvoice)
                                     .where(SupplierInvoice.id == ids[-4]))
        sent = {"invoice": {"supplier": {"iban": iban}}}
        states = {
            ids[-1]: {"status": PaymentState.CANCELLED, "cancel_reason": "Annulé dans Libeo."},
            ids[-2]: {"status": PaymentState.CANCELLED, "cancel_reason": "IBAN douteux", "hold_reasons": ["new_iban"]},
            ids[-3]: {"status": PaymentState.FAILED, "failure_reason": "Rejeté : provision insuffisante (AM04)"},
            ids[-4]: {"status": PaymentState.FAILED, "failure_reason": "Rejeté : compte clos (AC04)",
                      "new_iban_required": True, "request_body": sent},
            ids[-5]: {"status": PaymentState.SCHEDULED, "libeo_payment_id": "77"},
        }
        for invoice_id, values in states.items():
            meg_db.session.add(PaymentAttempt(invoice_id=invoice_id, idempotency_key=uuid.uuid4().hex,
                                              requested_by_id=admin.id, **values))
        meg_db.session.commit()
    html = page(client.get(INVOICES, query_string={"mode": "libeo", "tri": "echeance"}))
    offered = set(ids) - {ids[-2], ids[-4], ids[-5]}
    assert set(boxes(html)) == offered
    words, in_form, cents = filter_button(client, html)
    assert set(in_form) == offered and len(in_form) == len(offered)
    assert words == f"Sélectionner les {len(offered)} factures du filtre"
    amounts = {row[0]: row[2] for row in meg_libeo_invoices(meg_app)}
    assert cents == sum(amounts[i] for i in offered)
    assert "Non sélectionnable : motif du refus à lire avant de payer" in html
    assert "Non sélectionnable : nouvel IBAN du fournisseur nécessaire" in html
    assert "Non sélectionnable : paiement déjà en cours" in html
    # A tab of what « Payer » may take offers its invoices; the others, none.
    rejected = filter_button(client, page(client.get(INVOICES, query_string={"etat": "rejetees"})))
    assert rejected is not None and rejected[1] == [ids[-3]]
    assert filter_button(client, page(client.get(INVOICES, query_string={"etat": "programmees"}))) is None


def test_the_filters_invoices_read_on_demand_keep_to_the_filter_and_refuse_nothing_strange(connected, client,
                                                                                           meg_app):
    """The button's script reads the filter's invoices when asked: those of the filter (never another
    company's), nothing for a filter without payable invoices or for parameters that make no sense; without
    script, a filter with nothing to pay says so on « Factures »."""
    libeo = meg_libeo_invoices(meg_app)
    found = client.get("/meg/achats/factures/filtre", query_string={"mode": "libeo", "tri": "-montant"})
    assert found.status_code == 200 and found.mimetype == "application/json"
    amounts = {row[0]: row[2] for row in libeo}
    assert found.get_json() == {"ids": sorted(amounts, key=lambda i: (-amounts[i], -i)),
                                "cents": sum(amounts.values())}
    for strange in ({"etat": "x", "du": "2026-13-45", "au": "hier"}, {"q": "%' OR 1=1 --" * 500},
                    {"min": "-5", "max": "abc", "tri": "drop table"}, {"mode": "cheque"}, {}):
        answer = client.get("/meg/achats/factures/filtre", query_string=strange)
        assert answer.status_code == 200, strange
        assert set(answer.get_json()["ids"]) <= set(amounts), strange
    assert client.get("/meg/achats/factures/filtre", query_string={"mode": "cheque"}).get_json()["ids"] == []

    refused = client.get(SELECTION, query_string={"filtre": "1", "mode": "cheque", "depuis": "factures"})
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/meg/achats/")
    assert "Aucune facture de ce filtre n'est à payer avec Libeo : rien n'a été payé." in page(
        client.get(refused.headers["Location"]))


def test_what_people_typed_shows_as_text_in_the_rows_and_their_boxes(connected, client, meg_app):
    """The rows are written in Python: an invoice number and a supplier's name that look like HTML are shown
    as typed, in the cell, in the box's label and in why a row cannot be selected, never run."""
    from models.meg import PaymentMode, Supplier

    with meg_app.app_context():
        invoices = meg_db.session.scalars(select(SupplierInvoice).order_by(SupplierInvoice.id)).all()
        payable = next(i for i in invoices if i.payment_mode is PaymentMode.LIBEO and i.paid_at is None)
        other = next(i for i in invoices if i.payment_mode is PaymentMode.CHEQUE
                     and i.company_id == payable.company_id)
        payable.number, other.number = '<b>F-1</b>"', "<i>F-2</i>"
        meg_db.session.get(Supplier, payable.supplier_id).name = "<img src=x onerror=alert(1)> & Fils"
        meg_db.session.commit()
    html = client.get(INVOICES).get_data(as_text=True)
    assert "<img" not in html and "<b>F-1" not in html and "<i>F-2" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; Fils" in html
    assert 'aria-label="Sélectionner la facture &lt;b&gt;F-1&lt;/b&gt;&#34;"' in html
    assert ">&lt;b&gt;F-1&lt;/b&gt;&#34;</a>" in html and ">&lt;i&gt;F-2&lt;/i&gt;</a>" in html
