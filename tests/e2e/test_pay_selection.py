"""« Payer la sélection » in Chromium, from the boxes to the result, in MEG and in Libeo.

MEG reaches Libeo through the fault proxy of tests/integration: the
selection's answer is lost on the way back, once (MEG asks again with the
same keys: each invoice paid once, each told) or for good (each invoice
« Vérification en cours » until « Vérifier maintenant »). The plan's quota
covers only part of the selection, said before the click and after.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from core.dates import paris_today
from tests.integration.fault_proxy import FaultProxy

from .test_before_the_click import pay_in_libeo, sync_later
from .test_einvoice_import import LIBEO_EMAIL, LIBEO_PASSWORD, connected, sync  # noqa: F401 (fixtures)
from .test_meg_achats import log_in

BATCH = r"POST /libeo/api/v1/payment-batches"
SHOTS = Path(os.environ.get("E2E_SHOTS") or "/tmp/shots/batch")


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"selection-{name}.png"), full_page=True)


@pytest.fixture
def proxy(live_server, connected):  # noqa: F811
    """MEG's calls to Libeo go through the fault proxy, over real sockets."""
    port = int(live_server.url.rsplit(":", 1)[1])
    fault = FaultProxy(port)
    meg = live_server.apps.meg
    saved = (meg.extensions.get("http_peers", {}), meg.config["LIBEO_URL"])
    meg.extensions["http_peers"] = {}
    meg.config["LIBEO_URL"] = f"http://127.0.0.1:{fault.port}/libeo"
    yield fault
    meg.extensions["http_peers"], meg.config["LIBEO_URL"] = saved
    fault.close()


def add_meg_invoices(live_server, count: int) -> None:
    from models.meg import db as meg_db
    from tests.factories import meg_company, meg_invoice, meg_supplier

    with live_server.apps.meg.app_context():
        company = meg_company("Boulangerie Martin SARL")
        supplier = meg_supplier(company, "Laiterie des Prés")
        for n in range(count):
            meg_invoice(company, supplier, f"LP-SEL-{n + 1}", amount_cents=54_321 + n,
                        due_date=paris_today() + timedelta(days=25 + n))
        meg_db.session.commit()


def libeo_payment_count(live_server) -> int:
    from models.libeo import Payment, db

    with live_server.apps.libeo.app_context():
        return db.session.scalar(select(func.count(Payment.id)))


def result_row(page: Page, number: str):
    return page.locator(f'tr[data-invoice="{number}"]')


def test_meg_a_selection_of_five_with_an_answer_lost_and_a_quota_covering_four(page: Page, live_server, proxy):
    add_meg_invoices(live_server, 1)  # five « Virement par Libeo » invoices
    pay_in_libeo(live_server, 1)  # one of the Gratuit plan's five payments used in Libeo
    sync_later(live_server)  # MEG learns it from the events feed
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/reglements")
    bar = page.locator("[data-selection-bar]")
    expect(bar).to_contain_text("Cochez les factures à payer ensemble.")
    expect(page.get_by_role("button", name="Payer la sélection")).to_be_disabled()
    # The cheque invoice has no box, and says why to a screen reader.
    expect(page.get_by_text("Non sélectionnable : mode de règlement « Chèque »")).to_have_count(1)
    page.get_by_label("Sélectionner la facture F-BM-2026-001").check()
    expect(bar).to_contain_text("1 facture sélectionnée — 486,50")
    page.get_by_label("Tout sélectionner").check()
    expect(bar).to_contain_text("5 factures sélectionnées")
    shoot(page, "meg-1-reglements")
    page.get_by_role("button", name="Payer la sélection").click()

    expect(page.get_by_role("heading", name="Payer la sélection avec Libeo")).to_be_visible()
    notice = page.get_by_test_id("quota-notice")
    expect(notice).to_contain_text("Il vous reste 4 paiements ce mois-ci sur la formule Gratuit : 1 facture ne sera "
                                   "pas payée")
    expect(notice.get_by_role("link", name="Abonnement")).to_be_visible()
    expect(page.get_by_text("Total par date d'exécution")).to_be_visible()
    shoot(page, "meg-2-confirmation")
    page.set_viewport_size({"width": 390, "height": 900})
    shoot(page, "meg-2-confirmation-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    proxy.drop_answers(BATCH, times=1)  # Libeo pays, its answer is lost; MEG asks again with the same keys
    page.get_by_role("button", name="Confirmer les 4 paiements").click()
    summary = page.get_by_test_id("selection-summary")
    expect(summary).to_contain_text("5 factures : 4 programmées")
    expect(summary).to_contain_text("1 refusée")
    assert len(proxy.dropped) == 1
    expect(page.get_by_text("Non payée — limite de la formule atteinte")).to_have_count(1)
    expect(page.locator("tr[data-invoice]").filter(has_text="Programmé le")).to_have_count(4)
    shoot(page, "meg-3-result")
    page.set_viewport_size({"width": 390, "height": 900})
    shoot(page, "meg-3-result-390")
    assert libeo_payment_count(live_server) == 1 + 4  # each invoice paid once, whatever the retry
    # « Règlements » says the same of each.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("link", name="Retour aux règlements").click()
    expect(page.locator("tbody tr").filter(has_text="Programmé le")).to_have_count(4)


def test_meg_answers_never_heard_then_checked_invoice_by_invoice(page: Page, live_server, proxy):
    proxy.drop_answers(BATCH)
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/reglements")
    for number in ("F-BM-2026-001", "F-BM-2026-002", "F-BM-2026-004"):
        page.get_by_label(f"Sélectionner la facture {number}").check()
    page.get_by_role("button", name="Payer la sélection").click()
    page.get_by_role("button", name="Confirmer les 3 paiements").click()
    expect(page.get_by_test_id("selection-summary")).to_contain_text("3 factures : 3 en vérification")
    for number in ("F-BM-2026-001", "F-BM-2026-002", "F-BM-2026-004"):
        expect(result_row(page, number)).to_contain_text("Vérification en cours")
        expect(result_row(page, number)).to_contain_text("Ne réglez pas cette facture autrement")
    shoot(page, "meg-4-unheard")
    assert libeo_payment_count(live_server) == 3  # Libeo paid; MEG did not hear it

    proxy.heal()
    result_row(page, "F-BM-2026-002").get_by_role("button", name="Vérifier maintenant").click()
    expect(page.get_by_text("Libeo a répondu : Programmé le")).to_be_visible()
    expect(result_row(page, "F-BM-2026-002")).to_contain_text("Programmé le")
    expect(result_row(page, "F-BM-2026-001")).to_contain_text("Vérification en cours")
    sync(live_server)
    page.reload()
    expect(page.get_by_test_id("selection-summary")).to_contain_text("3 factures : 3 programmées")
    assert libeo_payment_count(live_server) == 3


def test_libeo_a_selection_of_three_with_a_quota_covering_two(page: Page, live_server, connected):  # noqa: F811
    from models.libeo import db
    from models.libeo.accounts.models import Account
    from tests.factories import libeo_invoice

    pay_in_libeo(live_server, 3)  # three of the five payments of the month used
    suppliers = [("Transports Garnier", "FR7630004008220000001583859"), ("Imprimerie Vidal",
                 "FR7610278060390000002375705"), ("Cabinet Roussel", "FR7630003029000000003167634")]
    with live_server.apps.libeo.app_context():
        account = db.session.scalar(select(Account).where(Account.siret == "83451234500002"))
        for n, (name, iban) in enumerate(suppliers):
            libeo_invoice(account, f"SEL-L-{n + 1}", supplier_name=name, supplier_iban=iban, amount_cents=70_000 + n,
                          due_date=paris_today() + timedelta(days=30 + n))
        db.session.commit()
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(LIBEO_EMAIL)
    page.get_by_label("Mot de passe").fill(LIBEO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.goto("/libeo/factures/")
    for n in (1, 2, 3):
        page.get_by_label(f"Sélectionner la facture SEL-L-{n}").check()
    expect(page.locator("[data-selection-bar]")).to_contain_text("3 factures sélectionnées — 2 100,03")
    shoot(page, "libeo-1-factures")
    page.get_by_role("button", name="Payer la sélection").click()

    expect(page.get_by_role("heading", name="Payer la sélection")).to_be_visible()
    expect(page.get_by_test_id("quota-notice")).to_contain_text(
        "Il vous reste 2 paiements ce mois-ci sur la formule Gratuit : 1 facture ne sera pas payée")
    shoot(page, "libeo-2-confirmation")
    page.get_by_role("button", name="Confirmer les 2 paiements").click()
    expect(page.get_by_test_id("selection-summary")).to_contain_text("3 factures : 2 programmées")
    expect(result_row(page, "SEL-L-3")).to_contain_text("Non payée — limite de la formule atteinte")
    expect(result_row(page, "SEL-L-3")).to_contain_text("Votre formule Gratuit inclut 5 paiements par mois")
    expect(result_row(page, "SEL-L-3").get_by_role("link", name="Passer à la formule Partnerships")).to_be_visible()
    shoot(page, "libeo-3-result")
    page.set_viewport_size({"width": 390, "height": 900})
    shoot(page, "libeo-3-result-390")
    assert libeo_payment_count(live_server) == 3 + 2
