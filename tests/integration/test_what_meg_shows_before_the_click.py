"""MEG shows what Libeo will pay, and says before the click when « Payer » cannot work.

Both products for real (MEG's client through Libeo's WSGI stack).
"""

from __future__ import annotations

import re
from html import unescape

from models.meg import SupplierInvoice
from models.meg import db as meg_db
from tests.helpers import sync

from .conftest import libeo_payments, meg_libeo_invoices

OLD_IBAN_SHOWN = "FR76 •••• •••• •••• •••• ••91 963"
NEW_IBAN = "FR7630004008220000001583859"
NEW_IBAN_SHOWN = "FR76 •••• •••• •••• •••• ••83 859"


def page(response) -> str:
    """The page's text as a person reads it (tags dropped, spaces collapsed)."""
    return " ".join(re.sub(r"<[^>]+>", " ", unescape(response.get_data(as_text=True))).split()).replace(" ,", ",")


def raw(response) -> str:
    return unescape(response.get_data(as_text=True))


def pay(client, invoice_id: int) -> str:
    return page(client.post(f"/meg/achats/factures/{invoice_id}/payer", data={"next": "/meg/achats/reglements"},
                            follow_redirects=True))


def change_supplier_iban(client, meg_app, invoice_id: int, iban: str) -> str:
    with meg_app.app_context():
        supplier = meg_db.session.get(SupplierInvoice, invoice_id).supplier
        supplier_id, name = supplier.id, supplier.name
    return page(client.post(f"/meg/achats/fournisseurs/{supplier_id}/modifier", follow_redirects=True,
                            data={"name": name, "iban": iban, "bic": ""}))


# --- the IBAN Libeo will pay ------------------------------------------------------------------------------


def test_after_the_suppliers_iban_changes_the_invoice_shows_the_iban_libeo_pays_and_says_it_differs(
        connected, client, meg_app, libeo_app):
    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    assert "Paiement programmé le" in pay(client, invoice_id)
    shown = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert f"vers {OLD_IBAN_SHOWN} — CREDIT AGRICOLE SA, exécution le" in shown
    assert "ancien IBAN" not in shown

    change_supplier_iban(client, meg_app, invoice_id, NEW_IBAN)
    sync(meg_app)  # and after any number of sync passes
    invoice_page = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert f"{NEW_IBAN_SHOWN} — BNP PARIBAS" in invoice_page  # the supplier's IBAN in MEG now…
    assert f"vers {OLD_IBAN_SHOWN} — CREDIT AGRICOLE SA" in invoice_page  # …and the one Libeo will pay
    assert (f"Le paiement programmé part vers l'ancien IBAN {OLD_IBAN_SHOWN} (CREDIT AGRICOLE SA), pas vers le "
            f"nouvel IBAN du fournisseur ({NEW_IBAN_SHOWN}) : annulez-le et payez à nouveau pour utiliser le "
            "nouveau.") in invoice_page
    assert "Annuler le paiement" in invoice_page
    # The lists say it too, every time they show the invoice.
    for listing in ("/meg/achats/reglements", "/meg/achats/"):
        assert "art vers l'ancien IBAN" in page(client.get(listing)), listing

    # Cancelled and paid again: the new IBAN, and nothing left to warn of.
    client.post(f"/meg/achats/factures/{invoice_id}/annuler-paiement")
    pay(client, invoice_id)
    again = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert f"vers {NEW_IBAN_SHOWN}" in again and "ancien IBAN" not in again
    assert [p["status"] for p in libeo_payments(libeo_app)] == ["cancelled", "awaiting_approval"]  # a new IBAN held


# --- « Payer » said impossible before the click ----------------------------------------------------------


def test_a_key_revoked_in_libeo_is_said_on_settlements_and_the_invoice_instead_of_payer(
        connected, client, meg_app, libeo_app):
    from models.libeo import Account, db
    from models.libeo.accounts.keys import issue_meg_api_key

    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    assert f"payer={invoice_id}" in raw(client.get("/meg/achats/reglements"))
    with libeo_app.app_context():
        issue_meg_api_key(db.session.get(Account, connected["account_id"]))
        db.session.commit()
    meg_app.config["SYNC_QUIET_SECONDS"] = 0
    sync(meg_app)  # MEG learns the key was replaced

    settlements = page(client.get("/meg/achats/reglements"))
    assert "Libeo refuse la clé enregistrée (révoquée ou remplacée dans Libeo)" in settlements
    assert f"payer={invoice_id}" not in raw(client.get("/meg/achats/reglements"))
    assert "Coller une nouvelle clé dans « Options »" in settlements
    invoice_page = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "Libeo refuse la clé enregistrée" in invoice_page
    assert f"payer={invoice_id}" not in raw(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "Coller une nouvelle clé dans « Options »" in invoice_page
    # No confirmation opens, and a crafted « Confirmer » is refused with the same words, nothing sent.
    assert "Confirmer le paiement" not in page(client.get(f"/meg/achats/reglements?payer={invoice_id}"))
    assert "Libeo refuse la clé enregistrée" in pay(client, invoice_id)
    assert libeo_payments(libeo_app) == []


# --- a hold said before the click ---------------------------------------------------------------------------

HOLD_WORDS = "Libeo retiendra ce paiement jusqu'à l'approbation d'un administrateur du compte Libeo"


def test_a_payment_libeo_will_hold_is_said_on_the_confirmation_before_the_click(connected, client, meg_app,
                                                                                libeo_app):
    """The confirmation said nothing, and only after « Confirmer le paiement » did MEG say « il attend
    l'approbation d'un administrateur dans Libeo »: an approval rule above an amount, a supplier's new IBAN."""
    from sqlalchemy import select

    from models.libeo import Account
    from models.libeo import db as libeo_db
    from models.libeo.accounts.services import set_approval_rules
    from models.meg import Company
    from tests.factories import meg_invoice

    (first, _, _), (second, _, _) = meg_libeo_invoices(meg_app)[:2]
    with meg_app.app_context():
        supplier = meg_db.session.get(SupplierInvoice, first).supplier
        company = meg_db.session.get(Company, supplier.company_id)
        again = meg_invoice(company, supplier, "F-MEME-FOURNISSEUR", amount_cents=5_000)
        meg_db.session.commit()
        again = again.id
        small = meg_db.session.get(SupplierInvoice, first).amount_cents
    # Nothing to say yet.
    assert HOLD_WORDS not in page(client.get(f"/meg/achats/factures/{first}?payer={first}"))

    # The account holds every payment above an amount under the first one's: MEG reads it with the account.
    with libeo_app.app_context():
        account = libeo_db.session.get(Account, connected["account_id"])
        set_approval_rules(account, small - 1, False, "claire@boulangerie-martin.fr")
        libeo_db.session.commit()
    sync(meg_app)
    client.post("/meg/achats/options/libeo/verifier")  # « Vérifier la connexion »: MEG reads the account again
    confirmation = page(client.get(f"/meg/achats/factures/{first}?payer={first}"))
    assert HOLD_WORDS in confirmation and "le compte fait approuver chaque paiement" in confirmation, confirmation
    # Held first, not « programmé »: what Libeo waits for (no IBAN to debit yet) is said without that.
    assert "Aucun IBAN du compte à débiter" in confirmation and "Le paiement sera programmé" not in confirmation
    # « Payer la sélection » says it on the invoice's line, the one above the amount only.
    selection = page(client.get("/meg/achats/reglements/selection", query_string={"facture": [first, again]}))
    assert selection.count("Libeo retiendra ce paiement jusqu'à l'approbation d'un administrateur") == 1
    assert "Confirmer le paiement" in confirmation
    assert "à approuver" in pay(client, first).lower()  # as said: Libeo held it
    assert libeo_payments(libeo_app)[0]["status"] == "awaiting_approval"

    # Rules off; the supplier paid (approved) on its IBAN, then given a new one in MEG.
    with libeo_app.app_context():
        account = libeo_db.session.get(Account, connected["account_id"])
        set_approval_rules(account, None, False, "claire@boulangerie-martin.fr")
        libeo_db.session.commit()
    client.post("/meg/achats/options/libeo/verifier")
    assert HOLD_WORDS not in page(client.get(f"/meg/achats/factures/{again}?payer={again}"))
    with libeo_app.app_context():
        from models.libeo import LibeoUser, Payment
        from models.libeo.payments.approvals import approve_payment

        account = libeo_db.session.get(Account, connected["account_id"])
        payment = libeo_db.session.scalar(select(Payment))
        admin = libeo_db.session.scalar(select(LibeoUser).where(LibeoUser.account_id == account.id))
        approve_payment(account, payment, admin)
        libeo_db.session.commit()
    sync(meg_app)
    change_supplier_iban(client, meg_app, again, NEW_IBAN)
    confirmation = page(client.get(f"/meg/achats/factures/{again}?payer={again}"))
    assert HOLD_WORDS in confirmation
    assert f"nouvel IBAN du fournisseur : son dernier paiement par Libeo allait à {OLD_IBAN_SHOWN}" in confirmation
    selection = page(client.get("/meg/achats/reglements/selection", query_string={"facture": [again]}))
    assert f"nouvel IBAN du fournisseur : son dernier paiement par Libeo allait à {OLD_IBAN_SHOWN}" in selection
    assert "à approuver" in pay(client, again).lower()
    assert [p["status"] for p in libeo_payments(libeo_app)][-1] == "awaiting_approval"
