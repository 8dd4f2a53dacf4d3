"""The « Payer » panel says the same as the page around it, and a refused date is replaced by the one proposed."""

from __future__ import annotations

from datetime import timedelta

from core.calendar import next_business_day
from core.dates import date_fr, paris_today
from core.validators import format_iban, mask_iban
from models.meg import SupplierInvoice
from models.meg import db as meg_db
from tests.helpers import text as page

from .conftest import meg_libeo_invoices


def test_the_invoice_page_masks_the_iban_as_its_payment_panel_does(connected, client, meg_app):
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    with meg_app.app_context():
        iban = meg_db.session.get(SupplierInvoice, invoice_id).supplier.iban
    shown = page(client.get(f"/meg/achats/factures/{invoice_id}?payer={invoice_id}"))
    assert format_iban(iban) not in shown
    assert shown.count(mask_iban(iban)) == 2  # on the invoice's card and on the panel


def test_a_refused_date_leaves_the_proposed_one_in_the_field(connected, client, meg_app):
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    saturday = next_business_day(paris_today()) + timedelta(days=7)
    while saturday.weekday() != 5:
        saturday += timedelta(days=1)
    proposed = next_business_day(saturday)
    response = client.post(f"/meg/achats/factures/{invoice_id}/payer",
                           data={"execution_date": saturday.isoformat(), "next": f"/meg/achats/factures/{invoice_id}"})
    assert response.status_code == 302
    assert response.location.endswith("#confirmer")  # back on the panel, on a phone too
    shown = page(client.get(response.location))
    assert f"choisissez le {date_fr(proposed)}, jour ouvré suivant" in shown
    assert f'value="{proposed.isoformat()}"' in shown
