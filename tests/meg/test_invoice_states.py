"""Each invoice's state, stored on it (``settlement_state``) so that « Factures »' tabs, their counts and
« Cette semaine » read an index: kept by every write of a payment or of ``paid_at``, in the same
transaction, and checked by ``flask meg invoice-states`` (which repairs what was written behind the
application's back).

Besides these, every test of the suite ends by comparing each invoice's stored state with the one its
payments give (``tests/conftest.py``, fixture ``apps``).
"""

from __future__ import annotations

import secrets

from sqlalchemy import select, text

from core.dates import utcnow
from models.meg import Company, PaymentMode, SupplierInvoice, db
from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState


def _invoices(meg_app, mode: PaymentMode = PaymentMode.LIBEO) -> list[tuple[int, str]]:
    with meg_app.app_context():
        company = db.session.scalar(select(Company).where(Company.name == "Boulangerie Martin SARL"))
        return [tuple(row) for row in db.session.execute(
            select(SupplierInvoice.id, SupplierInvoice.number)
            .where(SupplierInvoice.company_id == company.id, SupplierInvoice.payment_mode == mode,
                   SupplierInvoice.paid_at.is_(None)).order_by(SupplierInvoice.id))]


def _tab(client, state: str) -> str:
    return client.get(f"/meg/achats/?etat={state}").get_data(as_text=True)


def _attempt(invoice_id: int, number: int, status: PaymentState) -> PaymentAttempt:
    return PaymentAttempt(invoice_id=invoice_id, attempt=number, status=status,
                          idempotency_key=secrets.token_urlsafe(24))


def test_the_tabs_follow_each_payment_and_each_settlement_written_through_the_application(meg_app, demo, client,
                                                                                       meg_auth):
    (paid_id, paid_number), (retried_id, retried_number), *_ = _invoices(meg_app)
    (settled_id, settled_number), *_ = _invoices(meg_app, PaymentMode.VIREMENT)
    meg_auth.login()
    assert all(number in _tab(client, "a_regler") for number in (paid_number, retried_number, settled_number))

    with meg_app.app_context():
        db.session.add_all([_attempt(paid_id, 1, PaymentState.SCHEDULED), _attempt(retried_id, 1,
                                                                                   PaymentState.FAILED)])
        db.session.commit()
        assert db.session.get(SupplierInvoice, paid_id).settlement_state == "programmees"
    assert paid_number in _tab(client, "programmees") and paid_number not in _tab(client, "a_regler")
    assert retried_number in _tab(client, "rejetees")

    with meg_app.app_context():
        db.session.scalars(select(PaymentAttempt).where(PaymentAttempt.invoice_id == paid_id)).one().status = (
            PaymentState.PAID)
        # A second attempt after the rejected transfer, cancelled: the latest attempt says « to settle ».
        db.session.add(_attempt(retried_id, 2, PaymentState.CANCELLED))
        db.session.get(SupplierInvoice, settled_id).paid_at = utcnow()  # settled in MEG
        db.session.commit()
    payees = _tab(client, "payees")
    assert paid_number in payees and settled_number in payees
    assert retried_number in _tab(client, "a_regler") and retried_number not in _tab(client, "rejetees")


def test_a_state_written_behind_the_applications_back_is_found_then_repaired(apps, meg_app, demo, client,
                                                                             meg_auth):
    (invoice_id, number), *_ = _invoices(meg_app)
    with meg_app.app_context():
        db.session.add(_attempt(invoice_id, 1, PaymentState.SCHEDULED))
        db.session.commit()
        # A statement the application did not write (an operator's SQL): the stored state is now wrong.
        db.session.execute(text("UPDATE libeo_payment SET status = 'PAID' WHERE invoice_id = :id"), {"id": invoice_id})
        db.session.commit()
    meg_auth.login()
    assert number in _tab(client, "programmees")

    runner = apps.root.test_cli_runner()
    found = runner.invoke(args=["meg", "invoice-states"])
    assert found.exit_code == 1
    assert (f"1 facture(s) à recalculer (id {invoice_id} : « programmees » au lieu de « payees »). "
            "Relancez avec --repair.") in found.output
    repaired = runner.invoke(args=["meg", "invoice-states", "--repair"])
    assert repaired.exit_code == 0 and "1 facture(s) recalculée(s)" in repaired.output
    checked = runner.invoke(args=["meg", "invoice-states"])
    assert checked.exit_code == 0 and "État des factures : à jour." in checked.output
    assert number in _tab(client, "payees") and number not in _tab(client, "programmees")


def test_this_week_sums_each_line_from_its_own_invoices(meg_app, demo):
    """« Cette semaine »'s four figures, each from its invoices: to pay by Sunday (and, of those, already
    late), transfers leaving this week, payments awaiting an approval in Libeo; a transfer of next week
    counts in none."""
    from datetime import timedelta

    from core.dates import paris_today, week_of
    from core.listing import ListQuery, parse_list_args
    from core.week import WeekLine
    from models.meg.achats.lists import INVOICES
    from models.meg.achats.week import week_and_tab_counts

    today = paris_today()
    start, end = week_of(today)
    with meg_app.app_context():
        company = db.session.scalar(select(Company).where(Company.name == "Boulangerie Martin SARL"))
        invoices = db.session.scalars(select(SupplierInvoice).where(
            SupplierInvoice.company_id == company.id, SupplierInvoice.paid_at.is_(None))
            .order_by(SupplierInvoice.id)).all()
        late, due, leaving, awaiting, next_week = invoices[:5]
        for invoice, days in ((late, -3), (due, 0), (leaving, 0), (awaiting, 0), (next_week, 0)):
            invoice.due_date = today + timedelta(days=days)
        leaving_attempt = _attempt(leaving.id, 1, PaymentState.SCHEDULED)
        leaving_attempt.execution_date = start
        later = _attempt(next_week.id, 1, PaymentState.SCHEDULED)
        later.execution_date = end + timedelta(days=1)
        db.session.add_all([leaving_attempt, later, _attempt(awaiting.id, 1, PaymentState.AWAITING_APPROVAL)])
        db.session.commit()
        others = db.session.scalars(select(SupplierInvoice).where(
            SupplierInvoice.company_id == company.id, SupplierInvoice.settlement_state.in_(("a_regler", "rejetees")),
            SupplierInvoice.due_date <= end)).all()
        counts, summary = week_and_tab_counts(company, ListQuery(INVOICES, sort="date", descending=True), today)
        assert summary.to_pay == WeekLine(len(others), sum(i.amount_cents for i in others))
        assert late in others and due in others
        overdue = [i for i in others if i.due_date < today]
        assert summary.overdue == WeekLine(len(overdue), sum(i.amount_cents for i in overdue))
        assert summary.leaving == WeekLine(1, leaving.amount_cents)
        assert summary.awaiting_approval == WeekLine(1, awaiting.amount_cents)

        # The tabs count the company's invoices under the filter's other terms; « Cette semaine » never follows it.
        mine = db.session.scalars(select(SupplierInvoice).where(SupplierInvoice.company_id == company.id)).all()

        def by_state(rows) -> dict[str, int]:
            states = {state: sum(1 for i in rows if i.settlement_state == state)
                      for state in ("a_regler", "programmees", "payees", "rejetees")}
            return {**states, "": len(rows)}

        assert counts == by_state(mine)
        libeo = [i for i in mine if i.payment_mode is PaymentMode.LIBEO]
        nothing = {"q": "aucune facture ne porte ce nom"}
        for args, kept in (({"etat": "a_regler"}, mine), ({"q": late.number}, [late]),
                           ({"mode": "libeo", "tri": "-montant"}, libeo), (nothing, [])):
            counts, with_counts = week_and_tab_counts(company, parse_list_args(args, INVOICES), today)
            assert with_counts == summary, args
            assert counts == by_state(kept), args


def _state_shown(client, invoice_id: int) -> str:
    """The invoice page's « État »."""
    import re

    html = client.get(f"/meg/achats/factures/{invoice_id}").get_data(as_text=True)
    return re.search(r"<dt>État</dt><dd>\s*<span class=\"badge[^\"]*\">([^<]*)</span>", html).group(1)


def _row_state(client, tab: str, number: str) -> str | None:
    """The « État » of ``number``'s row in a tab of « Factures », None when the tab does not list it."""
    import re

    for row in re.findall(r"<tr>.*?</tr>", _tab(client, tab)):
        if f">{number}</a>" in row:
            return re.search(r'data-label="État"><span class="badge[^"]*">([^<]*)</span>', row).group(1)
    return None


def test_an_invoice_switched_to_another_mode_after_its_rejected_transfer_is_to_settle_that_way_everywhere(
        meg_app, demo, client, meg_auth):
    """Its row, its tab, its page and the export say the same: « À régler » (not « Rejetée » in the tab and
    « À régler » on the row); if the bank then says the transfer was debited after all, it is paid through
    Libeo, whatever its mode, on every screen, and « Règlements » no longer lists it."""
    from models.meg.achats.models import Supplier

    (invoice_id, number), *_ = _invoices(meg_app)
    with meg_app.app_context():
        rejected = _attempt(invoice_id, 1, PaymentState.FAILED)
        rejected.failure_reason = "Rejeté : provision insuffisante (AM04)"
        db.session.add(rejected)
        db.session.commit()
        invoice = db.session.get(SupplierInvoice, invoice_id)
        form = {"number": invoice.number, "supplier_id": invoice.supplier_id,
                "issue_date": invoice.issue_date.isoformat(), "due_date": invoice.due_date.isoformat(),
                "amount": f"{invoice.amount_cents / 100:.2f}".replace(".", ","), "payment_mode": "VIREMENT"}
        supplier = db.session.get(Supplier, invoice.supplier_id).name
    meg_auth.login()
    assert _row_state(client, "rejetees", number) == "Rejeté : provision insuffisante (AM04)"

    edited = client.post(f"/meg/achats/factures/{invoice_id}/modifier", data=form)
    assert edited.status_code == 302  # paid another way now: by transfer from the company's bank
    assert _row_state(client, "rejetees", number) is None
    assert _row_state(client, "a_regler", number) == "À régler"
    assert _state_shown(client, invoice_id) == "À régler"
    export = client.get("/meg/achats/factures/export.csv?etat=a_regler").get_data(as_text=True)
    assert any(number in line and line.endswith(";À régler;;") for line in export.splitlines())
    settlements = client.get("/meg/achats/reglements").get_data(as_text=True)
    assert number in settlements and supplier in settlements

    with meg_app.app_context():  # Libeo's word, as the sync records it: the bank debited it after all
        paid = db.session.scalars(select(PaymentAttempt).where(PaymentAttempt.invoice_id == invoice_id)).one()
        paid.status, paid.failure_reason, paid.paid_on = PaymentState.PAID, None, paid.requested_at.date()
        db.session.commit()
    label = _row_state(client, "payees", number)
    assert label is not None and label.startswith("Payée via Libeo le ")
    assert _row_state(client, "a_regler", number) is None
    assert _state_shown(client, invoice_id) == label
    assert f">{number}</a>" not in client.get("/meg/achats/reglements").get_data(as_text=True)


def test_to_pay_by_sunday_links_to_the_invoices_it_counts(meg_app, demo, client, meg_auth):
    """« À payer d'ici dimanche » opens « Règlements » up to Sunday: every invoice the figure counts is there,
    none due later (the list once opened on every invoice to settle, whatever its due date)."""
    import re
    from datetime import timedelta
    from html import unescape

    from core.dates import paris_today, week_of

    today = paris_today()
    _, sunday = week_of(today)
    with meg_app.app_context():
        company = db.session.scalar(select(Company).where(Company.name == "Boulangerie Martin SARL"))
        invoices = db.session.scalars(select(SupplierInvoice).where(
            SupplierInvoice.company_id == company.id, SupplierInvoice.settlement_state == "a_regler")
            .order_by(SupplierInvoice.id)).all()
        this_week, next_month = invoices[0], invoices[1]
        this_week.due_date, next_month.due_date = sunday, sunday + timedelta(days=30)
        db.session.commit()
        due_by_sunday = {i.number for i in invoices if i.due_date <= sunday}
        later = {i.number for i in invoices if i.due_date > sunday}
    meg_auth.login()

    home = client.get("/meg/achats/").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)">À payer d\'ici dimanche</a>', home)
    assert link is not None
    listed = client.get(unescape(link.group(1))).get_data(as_text=True)
    assert this_week.number in listed and next_month.number not in listed
    assert all(number in listed for number in due_by_sunday)
    assert not any(number in listed for number in later)
