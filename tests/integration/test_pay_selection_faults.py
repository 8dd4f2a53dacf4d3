"""« Payer la sélection » deployed apart, with answers lost between MEG and Libeo (the fault proxy).

The selection goes to Libeo in one round trip, each invoice with its own
key and body. A lost answer is asked again with the same keys: Libeo
answers what it did, nothing is paid twice. An answer that never comes back
leaves each invoice « Vérification en cours », never « Refusé » nor « À
régler », and the sync pass settles each one, replayed alone with its own
key or read from Libeo's events feed when that replay is lost too.
"""

from __future__ import annotations

import re

from .deployment import WebClient
from .test_deployed_apart import libeo_invoice_ids
from .test_payment_truth_faults import assert_same_story, connect, libeo_payments, meg_payments, sync

BATCH = r"POST /api/v1/payment-batches"


def confirm_selection(meg: WebClient, invoice_ids: list[int]) -> str:
    """The boxes ticked in « Règlements », « Payer la sélection », then « Confirmer les N paiements »."""
    settlements = WebClient.text(meg.get("/achats/reglements"))
    for invoice_id in invoice_ids:
        assert f'name="facture" value="{invoice_id}"' in settlements
    confirmation = WebClient.text(meg.get("/achats/reglements/selection", params={"facture": invoice_ids}))
    assert f"Confirmer les {len(invoice_ids)} paiements" in confirmation
    return WebClient.text(meg.submit("/achats/reglements", "/achats/reglements/selection/confirmer",
                                     {"facture": invoice_ids}))


def result_of(page: str, number: str) -> str:
    return re.search(rf'data-invoice="{re.escape(number)}".*?</tr>', page, re.S).group(0)


def test_an_answer_lost_once_is_asked_again_and_each_invoice_paid_once(faulty):
    libeo, meg = connect(faulty)
    invoices = libeo_invoice_ids(faulty)
    faulty.proxy.drop_answers(BATCH, times=1)
    result = confirm_selection(meg, [invoice_id for invoice_id, _ in invoices])
    assert len(faulty.proxy.dropped) == 1  # lost once, then heard with the same keys
    assert f"{len(invoices)} factures : {len(invoices)} programmées" in result
    assert len(libeo_payments(faulty)) == len(invoices)
    assert_same_story(faulty)


def test_a_selection_left_unheard_is_settled_invoice_by_invoice(faulty):
    libeo, meg = connect(faulty)
    invoices = libeo_invoice_ids(faulty)
    faulty.proxy.drop_answers(BATCH)
    result = confirm_selection(meg, [invoice_id for invoice_id, _ in invoices])
    assert faulty.proxy.dropped
    for _, number in invoices:
        row = result_of(result, number)
        assert "Vérification en cours" in row and "Vérifier maintenant" in row
    assert "rien n'a été payé" not in result.lower() and "Refusé" not in result
    assert len(libeo_payments(faulty)) == len(invoices)  # Libeo paid, MEG did not hear it

    # Back, except the replay of one invoice, whose answer is lost too: Libeo's events feed, read in
    # the same pass, tells MEG that payment all the same.
    (lost_id, _), *_ = invoices
    faulty.proxy.heal()
    faulty.proxy.drop_answers(rf"POST /api/v1/invoices/meg-{lost_id}/payments ")
    sync(faulty)
    assert any(f"meg-{lost_id}/payments" in line for line in faulty.proxy.dropped)
    settlements = WebClient.text(meg.get("/achats/reglements"))
    for _, number in invoices:
        assert "Programmé le" in re.search(rf"{re.escape(number)}</a>.*?</tr>", settlements, re.S).group(0)
    assert [p["status"].lower() for p in meg_payments(faulty)] == ["scheduled"] * len(invoices)
    assert len(libeo_payments(faulty)) == len(invoices)
    assert_same_story(faulty)
