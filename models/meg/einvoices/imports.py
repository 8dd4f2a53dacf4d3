"""« Importer une facture électronique »: a supplier's e-invoice becomes an « Achats » invoice.

Two steps, as an accountant receiving many e-invoices expects:
1. ``start_import``: the file is read (``einvoice.read_einvoice``). A file MEG
   cannot take is refused with its French message and nothing is kept. A
   good one is kept as a :class:`PendingImport` of the company and the
   person, in the database (never in the session cookie: it weighs up to
   10 MB and any worker may serve the next step), until it is saved,
   abandoned or expires.
2. ``proposal`` pre-fills the invoice for the person to confirm: the
   supplier found by SIRET (then SIREN, then IBAN) or to be created, the
   dates (a due date proposed at 30 days when the file has none), the
   amount, the « Mode de règlement », and what the file lacks or says that
   needs a look (an IBAN differing from the supplier's known one, a buyer
   that is not this company, a number already recorded). ``save_import``
   records what the person confirmed; the file stays with the invoice. The
   file of an invoice already recorded joins it instead
   (``attach_to_recorded``), and follows it to Libeo.

A known supplier's IBAN changes only if the person chose so and may change
it (an « Achats » administrator: ``models.meg.achats.supplier_iban``),
through ``update_supplier`` (where MEG keeps the journal of IBAN changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.dates import as_utc, utcnow
from core.db import end_reading, keep_loaded, rowcount
from core.einvoices.reading import (
    DIRECT_DEBIT_CODES,
    EInvoice,
    read_einvoice_within_limits,
    shown_name,
)
from core.money import format_amount
from core.names import name_key
from core.validators import format_iban
from models.meg.achats.invoices import (
    AchatsError,
    InvoiceData,
    SupplierData,
    company_supplier,
    create_invoice,
    create_supplier,
    update_supplier,
)
from models.meg.achats.models import PaymentMode, Supplier, SupplierInvoice
from models.meg.achats.supplier_iban import IBAN_ADMINS_ONLY, may_change_iban
from models.meg.companies.models import Company, User
from models.meg.db import Model, db
from models.meg.einvoices.documents import (
    PDF,
    DocumentFile,
    attach_document,
    content_type_of,
)
from models.meg.libeo_link.connection import connection_of
from models.meg.libeo_link.outbox import document_changed

PENDING_LIFETIME = timedelta(hours=24)
# Files a person may leave half-imported; the oldest go first.
MAX_PENDING_PER_USER = 20
DEFAULT_TERM = timedelta(days=30)
SAVED_CURRENCIES = ("EUR",)


class PendingImport(Model):
    """A file read and waiting for its person to confirm the invoice (step 2)."""

    __tablename__ = "einvoice_import"
    __table_args__ = (Index("ix_einvoice_import_owner", "company_id", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    def read(self) -> EInvoice:
        """What the file says, read again as it was before it was kept: in a process of its own, within the same
        limits (a file that passed them once could take the web worker's memory and time at each view)."""
        return read_einvoice_within_limits(self.filename, self.content)


def start_import(company: Company, user: User, filename: str, content: bytes) -> PendingImport:
    """Reads the file and keeps it for step 2; EInvoiceError (nothing kept) when MEG cannot take it.

    The file is read in a process of its own, within a memory and time budget,
    before this request writes anything: on SQLite the writers' turn (one
    writer at a time for every company) is taken only to keep what was read.
    The caller's view is ``reads_first``.
    """
    einvoice = read_einvoice_within_limits(filename, content)
    with keep_loaded(db):
        end_reading(db)
    _forget_old_imports(user)
    now = utcnow()
    content_type = content_type_of(content)
    pending = PendingImport(
        company_id=company.id, user_id=user.id, filename=stored_name(filename, einvoice, content_type),
        content_type=content_type, size=len(content), content=content,
        created_at=now, expires_at=now + PENDING_LIFETIME,
    )
    db.session.add(pending)
    db.session.flush()
    return pending


def stored_name(filename: str | None, einvoice: EInvoice, content_type: str) -> str:
    """The name the person gave the file, without folders or invisible characters; else one made up."""
    shown = shown_name(filename or "")
    if shown == "fichier":
        shown = f"facture-{einvoice.number}.{'pdf' if content_type == PDF else 'xml'}"
    return shown[:255]


def _forget_old_imports(user: User) -> None:
    """Expired files go, and a person's oldest beyond the limit (files weigh up to 10 MB)."""
    db.session.execute(delete(PendingImport).where(PendingImport.expires_at < utcnow()))
    keep = select(PendingImport.id).where(PendingImport.user_id == user.id).order_by(
        PendingImport.created_at.desc(), PendingImport.id.desc()).limit(MAX_PENDING_PER_USER - 1)
    db.session.execute(
        delete(PendingImport).where(PendingImport.user_id == user.id, PendingImport.id.not_in(keep))
        .execution_options(synchronize_session=False)
    )


def pending_import(company: Company, user: User, import_id: int) -> PendingImport | None:
    """The person's own file for this company, while it has not expired; never anyone else's."""
    pending = db.session.scalar(
        select(PendingImport).where(PendingImport.id == import_id, PendingImport.company_id == company.id,
                                    PendingImport.user_id == user.id)
    )
    if pending is None or as_utc(pending.expires_at) < utcnow():
        return None
    return pending


def discard_import(pending: PendingImport) -> None:
    db.session.delete(pending)
    db.session.flush()


# --- step 2: the invoice to confirm ---------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """The pre-filled invoice, and what the person should know before saving it."""

    einvoice: EInvoice
    filename: str
    supplier: Supplier | None  # found in MEG; None: to be created
    matched_by: str | None  # « SIRET », « SIREN », « numéro de TVA », « IBAN », « nom »
    same_name: Supplier | None  # not found, but a supplier has this name (and another SIRET)
    iban_owner: Supplier | None  # has the file's IBAN, though the file names another legal identity
    due_date: date
    due_date_proposed: bool  # the file has none: issue date + 30 days
    payment_mode: PaymentMode
    duplicate: SupplierInvoice | None  # this supplier already has this number
    buyer_warning: str | None

    @property
    def iban_differs(self) -> bool:
        return iban_differs(self.supplier, self.einvoice)

    @property
    def iban_owner_sentence(self) -> str | None:
        """« Ce fichier vient de LE VENDEUR (SIREN …), pas de LE FOURNISSEUR, dont il porte l'IBAN. »"""
        owner = self.iban_owner
        if owner is None:
            return None
        einvoice = self.einvoice
        identity = (f"SIRET {einvoice.supplier_siret}" if einvoice.supplier_siret
                    else f"SIREN {einvoice.supplier_legal_siren}")
        theirs = f" (SIRET {owner.siret})" if owner.siret else ""
        return (f"Ce fichier vient de {einvoice.supplier_name} ({identity}), pas de {owner.name}{theirs}, "
                "dont il porte l'IBAN.")

    @property
    def amount_hint(self) -> str:
        """« Net à payer : total TTC 671,15 € (HT 559,29 € + TVA 111,86 €), moins 201,00 € déjà payés. »"""
        e = self.einvoice
        total = e.total_with_tax_cents if e.total_with_tax_cents is not None else e.amount_cents
        parts = f"total TTC {format_amount(total, e.currency)}"
        if e.total_without_tax_cents is not None and e.tax_cents is not None:
            parts += (f" (HT {format_amount(e.total_without_tax_cents, e.currency)} + TVA "
                      f"{format_amount(e.tax_cents, e.currency)})")
        if e.prepaid_cents:
            parts += f", moins {format_amount(e.prepaid_cents, e.currency)} déjà payés"
        if e.rounding_cents:
            parts += f", arrondi de {format_amount(e.rounding_cents, e.currency)}"
        return f"Net à payer, ce que le paiement réglera : {parts}."

    @property
    def currency_refusal(self) -> str | None:
        return currency_refusal(self.einvoice)

    @property
    def payment_mode_reason(self) -> str:
        if self.payment_mode is PaymentMode.PRELEVEMENT:
            return "Proposé : le fournisseur indique un prélèvement, il débitera lui-même ce montant."
        if self.payment_mode is PaymentMode.LIBEO:
            return "Proposé : l'entreprise est connectée à Libeo, la facture se paiera d'un clic (« Payer »)."
        return ("Proposé : virement. Connectez l'entreprise à Libeo (« Options ») pour payer vos factures "
                "d'un clic.")

    @property
    def missing_sentence(self) -> str | None:
        """« Le fichier (profil MINIMUM) ne contient pas : IBAN du fournisseur, date d'échéance. »"""
        if not self.einvoice.missing:
            return None
        profile = f" (profil {self.einvoice.profile})" if self.einvoice.profile else ""
        return f"Le fichier{profile} ne contient pas : {', '.join(self.einvoice.missing)}."


def iban_differs(supplier: Supplier | None, einvoice: EInvoice) -> bool:
    return supplier is not None and einvoice.iban is not None and einvoice.iban != supplier.iban


def currency_refusal(einvoice: EInvoice) -> str | None:
    if einvoice.currency in SAVED_CURRENCIES:
        return None
    return (f"Cette facture est en {einvoice.currency} : MEG n'enregistre que des factures en euros (EUR), "
            "et Libeo ne paie qu'en euros. Saisissez-la autrement ou demandez au fournisseur une facture en euros.")


def proposal(company: Company, pending: PendingImport) -> Proposal:
    einvoice = pending.read()
    match = find_supplier(company, einvoice)
    supplier = match.supplier
    duplicate = None
    if supplier is not None:
        duplicate = db.session.scalar(
            select(SupplierInvoice).where(SupplierInvoice.company_id == company.id,
                                          SupplierInvoice.supplier_id == supplier.id,
                                          SupplierInvoice.number == einvoice.number)
        )
    return Proposal(
        einvoice=einvoice,
        filename=pending.filename,
        supplier=supplier,
        matched_by=match.matched_by,
        same_name=match.same_name,
        iban_owner=match.iban_owner,
        due_date=einvoice.due_date or einvoice.issue_date + DEFAULT_TERM,
        due_date_proposed=einvoice.due_date is None,
        payment_mode=proposed_mode(company, einvoice),
        duplicate=duplicate,
        buyer_warning=_buyer_warning(company, einvoice),
    )


@dataclass(frozen=True)
class SupplierMatch:
    supplier: Supplier | None  # the company's supplier the file comes from; None: to be created
    matched_by: str | None  # « SIRET », « SIREN », « numéro de TVA », « IBAN », « nom »
    iban_owner: Supplier | None = None  # has the file's IBAN, but the file names another legal identity
    same_name: Supplier | None = None  # has the seller's name, but another SIRET


def find_supplier(company: Company, einvoice: EInvoice) -> SupplierMatch:
    """The company's supplier this file comes from: its legal identity first (SIRET, then SIREN,
    then the SIREN inside a French VAT number); its IBAN only when the file names no other identity;
    its name when the file names no identity at all (MINIMUM files often carry none)."""
    suppliers = select(Supplier).where(Supplier.company_id == company.id).order_by(Supplier.id).limit(1)
    siren = einvoice.supplier_legal_siren
    if einvoice.supplier_siret:
        found = db.session.scalar(suppliers.where(Supplier.siret == einvoice.supplier_siret))
        if found is not None:
            return SupplierMatch(found, "SIRET")
    if siren:
        found = db.session.scalar(suppliers.where(Supplier.siret.startswith(siren)))
        if found is not None:
            return SupplierMatch(found, "SIREN" if einvoice.supplier_siren else "numéro de TVA")
    named = [s for s in db.session.scalars(select(Supplier).where(Supplier.company_id == company.id)
                                           .order_by(Supplier.id))
             if name_key(s.name) == name_key(einvoice.supplier_name)]
    # Known under this name and no identity says otherwise (MEG learns the SIRET when the invoice is saved).
    by_name = next((s for s in named if s.siret is None or siren is None), None)
    iban_owner = None
    if einvoice.iban:
        found = db.session.scalar(suppliers.where(Supplier.iban == einvoice.iban))
        if found is not None and (siren is None or (found.siret is None and found is by_name)):
            return SupplierMatch(found, "IBAN")
        iban_owner = found
    if by_name is not None:
        return SupplierMatch(by_name, "nom", iban_owner)
    return SupplierMatch(None, None, iban_owner, named[0] if named else None)


# UNTDID 4461 codes of the means a transfer does not pay: cash, cheque, cards.
_OTHER_MEANS = {"10": PaymentMode.ESPECES, "20": PaymentMode.CHEQUE, "48": PaymentMode.CARTE,
                "54": PaymentMode.CARTE, "55": PaymentMode.CARTE}


def proposed_mode(company: Company, einvoice: EInvoice) -> PaymentMode:
    """As the file says: the supplier debits a direct debit itself, a card or a cheque pays as such;
    otherwise a transfer, through Libeo when connected."""
    if einvoice.payment_means_code in DIRECT_DEBIT_CODES:
        return PaymentMode.PRELEVEMENT
    if einvoice.payment_means_code in _OTHER_MEANS:
        return _OTHER_MEANS[einvoice.payment_means_code]
    return PaymentMode.LIBEO if connection_of(company) is not None else PaymentMode.VIREMENT


def _buyer_warning(company: Company, einvoice: EInvoice) -> str | None:
    if not (einvoice.buyer_siret and company.siret) or einvoice.buyer_siret[:9] == company.siret[:9]:
        return None
    return (f"Cette facture est adressée à {einvoice.buyer_name or 'une autre entreprise'} "
            f"(SIRET {einvoice.buyer_siret}), pas à {company.name} : vérifiez que vous l'importez "
            "dans la bonne entreprise.")


# --- saving what the person confirmed ---------------------------------------------------------------


@dataclass(frozen=True)
class NewSupplier:
    name: str
    siret: str | None
    iban: str | None  # None: a supplier that debits the company (direct debit), kept with an empty IBAN
    bic: str | None


@dataclass(frozen=True)
class ImportChoices:
    """The confirmed invoice: an existing supplier (``supplier_id``) or a new one, and the IBAN decision."""

    supplier_id: int | None
    new_supplier: NewSupplier | None
    replace_iban: bool | None  # None: not asked (no different IBAN)
    number: str
    issue_date: date
    due_date: date
    amount_cents: int
    payment_mode: PaymentMode
    confirm_duplicate: bool = False  # the person saw « Doublon possible » and saves anyway
    confirm_shared_iban: bool = False  # the new supplier's IBAN is a known supplier's, and the person checked it


@dataclass(frozen=True)
class SavedImport:
    """The invoice recorded, and what the person reads besides (the file's IBAN they may not take: ``notice``)."""

    invoice: SupplierInvoice
    notice: str | None = None


def save_import(company: Company, pending: PendingImport, choices: ImportChoices) -> SavedImport:
    """Records the invoice with its file; AchatsError (French, with its field) when it cannot be.

    The file is read again before the writers' turn is taken (the caller's view
    is ``reads_first``). Never commits (the view does, once); the pending file
    is gone once saved, and a second click finds it gone.
    """
    einvoice = pending.read()
    refusal = currency_refusal(einvoice)
    if refusal:
        raise AchatsError(refusal)
    file = DocumentFile(filename=pending.filename, content_type=pending.content_type, content=pending.content,
                        format=einvoice.format, profile=einvoice.profile)
    with keep_loaded(db):
        end_reading(db)
    _claim(pending)
    # The journal names the person who imported the file, not the synchronisation.
    supplier, notice = _supplier_for(company, einvoice, choices, db.session.get(User, pending.user_id))
    invoice = create_invoice(company, InvoiceData(
        number=choices.number, supplier_id=supplier.id, issue_date=choices.issue_date, due_date=choices.due_date,
        amount_cents=choices.amount_cents, payment_mode=choices.payment_mode,
    ), confirm_duplicate=choices.confirm_duplicate)
    if choices.amount_cents == einvoice.amount_cents:  # the file's totals, unless the person typed another amount
        invoice.net_cents, invoice.vat_cents = einvoice.total_without_tax_cents, einvoice.tax_cents
        invoice.total_cents, invoice.prepaid_cents = einvoice.total_with_tax_cents, einvoice.prepaid_cents
        invoice.rounding_cents = einvoice.rounding_cents
    if einvoice.direct_debit:
        invoice.mandate_reference, invoice.debited_iban = einvoice.mandate_reference, einvoice.debited_iban
    document_changed(invoice, attach_document(invoice, file))
    db.session.flush()
    return SavedImport(invoice, notice)


def attach_to_recorded(company: Company, pending: PendingImport) -> SupplierInvoice:
    """The file of an invoice already recorded (typed by hand, say): kept with it, replacing its
    file if it had one, and sent to Libeo if Libeo has the invoice. Never commits; the file is read
    before the writers' turn is taken (the caller's view is ``reads_first``)."""
    found = proposal(company, pending)
    if found.duplicate is None:
        raise AchatsError("Aucune facture enregistrée de ce fournisseur ne porte ce numéro : enregistrez-la.")
    file = DocumentFile(filename=pending.filename, content_type=pending.content_type, content=pending.content,
                        format=found.einvoice.format, profile=found.einvoice.profile)
    with keep_loaded(db):
        end_reading(db)
    _claim(pending)
    document_changed(found.duplicate, attach_document(found.duplicate, file))
    db.session.flush()
    return found.duplicate


def _claim(pending: PendingImport) -> None:
    """The pending file, taken in the write transaction: a second click (another tab) finds it gone."""
    deleted = db.session.execute(delete(PendingImport).where(PendingImport.id == pending.id))
    if rowcount(deleted) != 1:
        raise AchatsError("Ce fichier a déjà été enregistré ou abandonné : importez-le de nouveau si besoin.")


def _supplier_for(company: Company, einvoice: EInvoice, choices: ImportChoices,
                  user: User | None) -> tuple[Supplier, str | None]:
    """The invoice's supplier, and what the person reads about its IBAN besides (None: nothing)."""
    if choices.supplier_id is None:
        if choices.new_supplier is None:
            raise AchatsError("Choisissez un fournisseur, ou créez-le.", "supplier_id")
        return _create_supplier(company, choices.new_supplier, user, choices.confirm_shared_iban), None
    supplier = company_supplier(company, choices.supplier_id)
    notice = _iban_choice(company, supplier, einvoice, choices, user)
    if supplier.siret is None and einvoice.supplier_siret and _siret_owner(company, einvoice.supplier_siret) is None:
        supplier.siret = einvoice.supplier_siret  # an identifier learnt, not a payment detail
    return supplier, notice


def _iban_choice(company: Company, supplier: Supplier, einvoice: EInvoice, choices: ImportChoices,
                 user: User | None) -> str | None:
    """The file's IBAN, when it differs from the known supplier's: theirs if the person chose it and may change a
    supplier's IBAN. Returns what the person reads when they asked for it and may not (None otherwise)."""
    if einvoice.iban is None or not iban_differs(supplier, einvoice):
        return None
    if not may_change_iban(user, company):
        # Their page offers no « Remplacer »: the known IBAN stays, whatever the request says.
        if not choices.replace_iban:
            return None
        return (f"{IBAN_ADMINS_ONLY} L'IBAN connu de {supplier.name} ({supplier.iban_masked}) est gardé : "
                "la facture sera payée sur celui-ci.")
    if choices.replace_iban is None:
        raise AchatsError(
            f"L'IBAN de la facture ({format_iban(einvoice.iban)}) n'est pas celui que MEG connaît pour "
            f"{supplier.name} ({format_iban(supplier.iban)}) : choisissez lequel garder.", "iban_choice")
    if choices.replace_iban:
        # The person chose the invoice's IBAN on the import screen; a look-alike is journaled.
        update_supplier(supplier, SupplierData(supplier.name, einvoice.iban, einvoice.bic), user,
                        confirm_lookalike=True)
    return None


def _create_supplier(company: Company, new: NewSupplier, user: User | None, confirm_shared_iban: bool) -> Supplier:
    if new.siret:
        owner = _siret_owner(company, new.siret)
        if owner is not None:
            raise AchatsError(f"Le fournisseur « {owner.name} » a déjà ce SIRET : choisissez-le dans la liste.",
                              "supplier_siret")
    sharing = None if not new.iban else db.session.scalar(
        select(Supplier).where(Supplier.company_id == company.id, Supplier.iban == new.iban)
        .order_by(Supplier.id).limit(1))
    if sharing is not None and new.iban and not confirm_shared_iban:
        # Two legal identities on one account: a file that borrows a known supplier's IBAN, or a typo.
        raise AchatsError(
            f"L'IBAN {format_iban(new.iban)} est déjà celui de {sharing.name} : deux fournisseurs ne partagent "
            "presque jamais un compte. Vérifiez-le auprès du fournisseur par un moyen que vous connaissez déjà, "
            "puis cochez la case pour confirmer.", "confirm_shared_iban")
    # The person asked for a new supplier on the import screen; a look-alike is journaled.
    supplier = create_supplier(company, SupplierData(new.name, new.iban or "", new.bic), user,
                               confirm_lookalike=True)
    supplier.siret = new.siret
    db.session.flush()
    return supplier


def _siret_owner(company: Company, siret: str) -> Supplier | None:
    return db.session.scalar(select(Supplier).where(Supplier.company_id == company.id, Supplier.siret == siret))
