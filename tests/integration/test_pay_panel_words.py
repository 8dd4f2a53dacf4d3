"""The « Payer » panel says the same as the page around it, and a refused date is replaced by the one proposed."""

from __future__ import annotations

from datetime import timedelta

from core.calendar import earliest_execution_date, earliest_words, next_business_day
from core.dates import date_fr, paris_today
from core.validators import format_iban, mask_iban
from models.meg import PaymentMode, SupplierInvoice
from models.meg import db as meg_db
from tests.helpers import text as page
from tests.helpers import words

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
    # The field shows the proposed date: the message says so, rather than asking to choose what is chosen.
    assert (f"Le {date_fr(saturday)} n'est pas un jour ouvré (les virements SEPA ne sont pas exécutés le week-end ni "
            f"les jours de fermeture de TARGET2) : la « Date d'exécution » proposée est maintenant le "
            f"{date_fr(proposed)}, jour ouvré suivant ; confirmez le paiement ou choisissez une autre date.") in shown
    assert "choisissez le" not in shown
    assert f'value="{proposed.isoformat()}"' in shown


def test_a_past_date_from_a_page_left_open_is_replaced_and_said_so(connected, client, meg_app):
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    yesterday = paris_today() - timedelta(days=1)
    response = client.post(f"/meg/achats/factures/{invoice_id}/payer",
                           data={"execution_date": yesterday.isoformat(), "next": f"/meg/achats/factures/{invoice_id}"})
    shown = words(client.get(response.location))
    earliest = earliest_words(paris_today(), with_date=True)
    assert (f"La date d'exécution du {date_fr(yesterday)} est passée : la « Date d'exécution » proposée est "
            f"maintenant {earliest} ; confirmez le paiement ou choisissez une autre date.") in shown
    assert f'value="{earliest_execution_date(paris_today()).isoformat()}"' in shown


def test_payer_asked_from_a_page_no_longer_current_says_why_it_does_not_open(connected, client, meg_app):
    """« Payer » clicked on a page opened before the invoice was paid, or moved to another mode, used to show
    the list again without a word."""
    (paid_id, paid_number, _), (cash_id, cash_number, _) = meg_libeo_invoices(meg_app)[:2]
    assert "Paiement programmé le" in page(client.post(f"/meg/achats/factures/{paid_id}/payer",
                                                       data={"next": "/meg/achats/reglements"},
                                                       follow_redirects=True))
    with meg_app.app_context():
        meg_db.session.get(SupplierInvoice, cash_id).payment_mode = PaymentMode.ESPECES
        meg_db.session.commit()

    for path in (f"/meg/achats/reglements?payer={paid_id}", f"/meg/achats/factures/{paid_id}?payer={paid_id}",
                 # A list that no longer shows it (here, a search): its state is said all the same.
                 f"/meg/achats/reglements?q=introuvable&payer={paid_id}"):
        shown = page(client.get(path))
        assert f"La facture {paid_number} a déjà un paiement Libeo en cours (« Programmé le " in shown
        assert "« Payer » ne s'ouvre pas." in shown
        assert "Confirmer le paiement" not in shown
    shown = page(client.get(f"/meg/achats/reglements?payer={cash_id}"))
    assert (f"Le mode de règlement de la facture {cash_number} est « Espèces », pas « Virement par Libeo » : "
            "« Payer » ne s'ouvre pas.") in shown
    # On an invoice's page, a « Payer » of another invoice is not this page's.
    assert "ne s'ouvre pas" not in page(client.get(f"/meg/achats/factures/{paid_id}?payer={cash_id}"))
    assert ("La facture demandée n'existe pas dans cette entreprise"
            in page(client.get("/meg/achats/reglements?payer=987654")))
    # An invoice « Payer » opens for says nothing of the kind.
    open_id = meg_libeo_invoices(meg_app)[2][0]
    assert "ne s'ouvre pas" not in page(client.get(f"/meg/achats/reglements?payer={open_id}"))
