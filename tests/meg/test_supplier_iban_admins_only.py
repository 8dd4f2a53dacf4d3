"""A supplier's IBAN, where the next « Payer » sends the money, is changed by an « Achats » administrator only.

The door of « fraude au changement de RIB »: an « Achats » user, or the firm's expert-comptable (an « Achats »
user of the firm's clients), adds a supplier with its IBAN and renames one, but neither changes an existing
supplier's IBAN or BIC, by « Modifier » or by an imported e-invoice's « Remplacer ». They read IBANs masked, as
the exports give them; an administrator, who may change them, reads them whole.
"""

from __future__ import annotations

from dataclasses import replace
from html import unescape

import pytest
from sqlalchemy import func, select

from core.validators import format_iban
from devtools.einvoice_samples import MINOTERIE_IBAN, facturx_pdf, sample_invoice
from models.meg import Company, Supplier, db
from models.meg.journal import MegJournalEntry
from tests.html_forms import form_values, plain
from tests.meg.test_einvoice_import import confirm, start

OTHER_IBAN = "FR7610278060390000002375705"  # a valid IBAN of another bank (Crédit Mutuel)
MINOTERIE_WHOLE = "FR76 3000 6000 0100 0000 0791 963"
MINOTERIE_MASKED = "FR76 •••• •••• •••• •••• ••91 963"
ADMIN = "admin@boulangerie-martin.fr"
COMPTA = "compta@boulangerie-martin.fr"  # « Achats » user of Boulangerie Martin
EXPERT = "expert@cabinet-durand.fr"  # the firm's expert-comptable
ADMINS_ONLY = "Seuls les administrateurs du module « Achats » peuvent changer l'IBAN d'un fournisseur."


def _minoterie(meg_app) -> int:
    with meg_app.app_context():
        return db.session.scalar(select(Supplier.id).join(Company).where(
            Company.name == "Boulangerie Martin SARL", Supplier.name == "Minoterie Dupuis"))


def _supplier_and_journal(meg_app, supplier_id: int) -> tuple[tuple[str, str, str | None], int]:
    with meg_app.app_context():
        supplier = db.session.get(Supplier, supplier_id)
        entries = db.session.scalar(select(func.count(MegJournalEntry.id))
                                    .where(MegJournalEntry.company_id == supplier.company_id))
        return (supplier.name, supplier.iban, supplier.bic), entries


def _at_boulangerie(client, meg_auth, meg_app, who: str) -> None:
    assert meg_auth.login(who).status_code == 302
    with meg_app.app_context():
        company_id = db.session.scalar(select(Company.id).where(Company.name == "Boulangerie Martin SARL"))
    client.post("/meg/entreprise", data={"company_id": company_id})


def _text(response) -> str:
    return unescape(response.get_data(as_text=True))


def _supplier_form(page: str) -> dict[str, str]:
    return form_values(page, "form-grid")


# --- « Modifier » ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", [COMPTA, EXPERT])
@pytest.mark.parametrize("change", [{"iban": OTHER_IBAN, "bic": ""}, {"iban": MINOTERIE_IBAN, "bic": "CMCIFR2A"}],
                         ids=["iban", "bic"])
def test_only_an_achats_administrator_changes_a_suppliers_iban(client, demo, meg_auth, meg_app, who, change):
    """A request crafted with another IBAN (or BIC) than the supplier's gets the French refusal; the supplier
    and the journal stay as they were."""
    supplier_id = _minoterie(meg_app)
    before = _supplier_and_journal(meg_app, supplier_id)
    _at_boulangerie(client, meg_auth, meg_app, who)

    answer = client.post(f"/meg/achats/fournisseurs/{supplier_id}/modifier",
                         data={"name": "Minoterie Dupuis", **change})

    assert answer.status_code == 403
    assert ADMINS_ONLY in _text(answer)
    assert _supplier_and_journal(meg_app, supplier_id) == before
    assert before[0][1] == MINOTERIE_IBAN


@pytest.mark.parametrize("who", [COMPTA, EXPERT])
def test_the_edit_form_shows_a_user_the_masked_iban_and_the_sentence_without_the_field(client, demo, meg_auth,
                                                                                      meg_app, who):
    _at_boulangerie(client, meg_auth, meg_app, who)
    page = _text(client.get(f"/meg/achats/fournisseurs/{_minoterie(meg_app)}/modifier"))

    assert MINOTERIE_MASKED in page and "CREDIT AGRICOLE SA" in page
    assert ADMINS_ONLY in page
    assert MINOTERIE_WHOLE not in page and MINOTERIE_IBAN not in page
    assert set(_supplier_form(page)) & {"iban", "bic"} == set()
    assert "name" in _supplier_form(page)


def test_an_administrator_reads_it_whole_and_changes_it(client, demo, meg_auth, meg_app):
    supplier_id = _minoterie(meg_app)
    _, entries_before = _supplier_and_journal(meg_app, supplier_id)
    _at_boulangerie(client, meg_auth, meg_app, ADMIN)
    page = _text(client.get(f"/meg/achats/fournisseurs/{supplier_id}/modifier"))
    assert MINOTERIE_WHOLE in page and ADMINS_ONLY not in page
    assert _supplier_form(page)["iban"] == MINOTERIE_IBAN

    answer = client.post(f"/meg/achats/fournisseurs/{supplier_id}/modifier",
                         data={"name": "Minoterie Dupuis", "iban": OTHER_IBAN, "bic": ""})

    assert answer.status_code == 302
    (_, iban, _), entries = _supplier_and_journal(meg_app, supplier_id)
    assert iban == OTHER_IBAN and entries > entries_before  # journaled


@pytest.mark.parametrize("who", [COMPTA, EXPERT])
def test_a_user_still_renames_a_supplier_its_iban_untouched(client, demo, meg_auth, meg_app, who):
    supplier_id = _minoterie(meg_app)
    (_, iban, bic), entries = _supplier_and_journal(meg_app, supplier_id)
    _at_boulangerie(client, meg_auth, meg_app, who)
    page = _text(client.get(f"/meg/achats/fournisseurs/{supplier_id}/modifier"))

    saved = client.post(f"/meg/achats/fournisseurs/{supplier_id}/modifier",
                        data=_supplier_form(page) | {"name": "Minoterie Dupuis et Fils"}, follow_redirects=True)

    assert "Le fournisseur « Minoterie Dupuis et Fils » est modifié." in _text(saved)
    assert "Nouvel IBAN enregistré" not in _text(saved)
    assert _supplier_and_journal(meg_app, supplier_id) == (("Minoterie Dupuis et Fils", iban, bic), entries)


def test_the_same_iban_sent_back_is_no_change(client, demo, meg_auth, meg_app):
    """A form opened before the person stopped administering « Achats » sends the IBAN it showed: the name is
    saved, nothing is refused."""
    supplier_id = _minoterie(meg_app)
    (_, iban, bic), _ = _supplier_and_journal(meg_app, supplier_id)
    _at_boulangerie(client, meg_auth, meg_app, COMPTA)

    answer = client.post(f"/meg/achats/fournisseurs/{supplier_id}/modifier",
                         data={"name": "Minoterie Dupuis SA", "iban": format_iban(iban), "bic": bic or ""})

    assert answer.status_code == 302
    assert _supplier_and_journal(meg_app, supplier_id)[0] == ("Minoterie Dupuis SA", iban, bic)


def test_a_user_still_adds_a_supplier_with_its_iban(client, demo, meg_auth, meg_app):
    _at_boulangerie(client, meg_auth, meg_app, COMPTA)
    page = _text(client.get("/meg/achats/fournisseurs/nouveau"))
    assert "iban" in _supplier_form(page) and ADMINS_ONLY not in page

    answer = client.post("/meg/achats/fournisseurs/nouveau",
                         data={"name": "Transports Garnier", "iban": OTHER_IBAN, "bic": ""})

    assert answer.status_code == 302
    with meg_app.app_context():
        assert db.session.scalar(select(Supplier.iban).where(Supplier.name == "Transports Garnier")) == OTHER_IBAN


# --- « Fournisseurs » -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who, whole", [(ADMIN, True), (COMPTA, False), (EXPERT, False)])
def test_the_list_shows_ibans_whole_only_to_who_may_change_them(client, demo, meg_auth, meg_app, who, whole):
    _at_boulangerie(client, meg_auth, meg_app, who)
    page = plain(_text(client.get("/meg/achats/fournisseurs")))
    export = _text(client.get("/meg/achats/fournisseurs/export.csv"))

    assert "Minoterie Dupuis" in page
    assert (MINOTERIE_WHOLE in page) is whole and (MINOTERIE_MASKED in page) is not whole
    assert (MINOTERIE_IBAN in export) is whole  # as the export gives it


# --- « Importer une facture électronique » --------------------------------------------------------------------

INVOICE = sample_invoice()  # Minoterie Dupuis → Boulangerie Martin, with its known IBAN
CHANGED = replace(INVOICE, number="FA-RIB-1", iban=OTHER_IBAN, bic="CMCIFR2A")


@pytest.fixture
def minoterie_known_by_siret(client, demo, meg_auth):
    """A first e-invoice of Minoterie Dupuis recorded: MEG now knows its SIRET and finds it by it."""
    assert meg_auth.login(COMPTA).status_code == 302
    location, page = start(client, facturx_pdf(INVOICE, "en16931"), "f1.pdf")
    assert confirm(client, location, page).status_code == 302  # recording an invoice is an Achats user's job


def _minoterie_ibans(meg_app) -> list[tuple[str, str | None]]:
    with meg_app.app_context():
        return db.session.execute(select(Supplier.iban, Supplier.bic).join(Company).where(
            Company.name == "Boulangerie Martin SARL", Supplier.name == "Minoterie Dupuis")).all()


def test_nor_replaces_it_with_the_iban_of_an_imported_e_invoice(client, meg_app, minoterie_known_by_siret):
    """« remplacer » sent anyway by an Achats user: the invoice is recorded on the known IBAN, and the person
    reads why."""
    before = _minoterie_ibans(meg_app)
    location, page = start(client, facturx_pdf(CHANGED, "en16931"), "rib.pdf")

    saved = confirm(client, location, page, iban_choice="remplacer", confirm_duplicate="y")
    assert saved.status_code == 302
    told = plain(_text(client.get(saved.headers["Location"])))

    assert _minoterie_ibans(meg_app) == before and before[0][0] == MINOTERIE_IBAN
    assert ADMINS_ONLY in told
    assert f"L'IBAN connu de Minoterie Dupuis ({MINOTERIE_MASKED}) est gardé" in told


def test_the_import_offers_remplacer_to_administrators_only(client, meg_auth, meg_app, minoterie_known_by_siret):
    location, page = start(client, facturx_pdf(CHANGED, "en16931"), "rib.pdf")
    text = plain(page)
    assert "L'IBAN de la facture diffère de celui que MEG connaît pour Minoterie Dupuis." in text
    assert "FR76 1027 8060 3900 0000 2375 705" in text  # the file's, which the person holds
    assert MINOTERIE_MASKED in text and MINOTERIE_WHOLE not in text
    assert ADMINS_ONLY in text
    assert "Remplacer par l'IBAN de la facture" not in text and "iban_choice" not in form_values(page)
    # Saved as the page proposes: on the known IBAN.
    assert confirm(client, location, page, confirm_duplicate="y").status_code == 302
    assert _minoterie_ibans(meg_app)[0][0] == MINOTERIE_IBAN

    meg_auth.logout()
    meg_auth.login(ADMIN)
    location, page = start(client, facturx_pdf(replace(CHANGED, number="FA-RIB-2"), "en16931"), "rib2.pdf")
    assert "Remplacer par l'IBAN de la facture" in plain(page) and MINOTERIE_WHOLE in plain(page)
    assert confirm(client, location, page, iban_choice="remplacer", confirm_duplicate="y").status_code == 302
    assert _minoterie_ibans(meg_app) == [(OTHER_IBAN, "CMCIFR2A")]


# --- A transfer rejected for the supplier's account: who changes the IBAN ---------------------------------------


@pytest.mark.parametrize(("who", "offered"), [(ADMIN, True), (COMPTA, False)])
def test_a_rejected_transfer_sends_to_the_iban_only_who_may_change_it(client, demo, meg_auth, meg_app, who, offered):
    """The invoice says the supplier's account refused the transfer: the administrator gets « Modifier l'IBAN de
    … »; an « Achats » user is told to pass the new IBAN to an administrator (the link led to a page without
    the field: a dead end)."""
    import secrets

    from models.meg import SupplierInvoice
    from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState

    supplier_id = _minoterie(meg_app)
    with meg_app.app_context():
        invoice_id = db.session.scalar(select(SupplierInvoice.id).where(SupplierInvoice.supplier_id == supplier_id)
                                       .order_by(SupplierInvoice.id))
        db.session.add(PaymentAttempt(invoice_id=invoice_id, attempt=1, status=PaymentState.FAILED,
                                      idempotency_key=secrets.token_urlsafe(24), new_iban_required=True,
                                      failure_reason="Rejeté : compte clos (AC04)"))
        db.session.commit()
    _at_boulangerie(client, meg_auth, meg_app, who)
    page = _text(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "Demandez au fournisseur son nouvel IBAN" in page
    assert ("Modifier l'IBAN de Minoterie Dupuis" in page) is offered
    assert ('data-testid="ask-an-admin"' in page) is not offered
