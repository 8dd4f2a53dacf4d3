"""Libeo's safeguards: payments held until an administrator approves them.

When a payment is created, whatever the channel (MEG's API call, Libeo's
« Payer », any API client), :func:`holds_for` looks for what should make a
person look first:

- ``new_iban``: the supplier was paid before to another IBAN (« fraude au
  changement de RIB »);
- ``payee_name_mismatch``: this IBAN was paid before under a clearly
  different beneficiary name;
- ``duplicate_suspected``: another invoice of the same supplier, paid or
  being paid, has the same number, or the same amount within 7 days of the
  same issue date;
- ``approval_rule``: the account's rules (an amount strictly above its
  threshold, or every payment initiated by the expert-comptable);
- ``mixed_scripts``: a word of the supplier's name mixes scripts
  (« Оrаngе », Cyrillic О, а, е among Latin letters): a disguise, whatever
  it imitates; the sentence brackets the odd letters.

**Known IBANs.** The account keeps, per supplier, the IBANs its payments
went to (:class:`KnownSupplierIban`). An IBAN becomes known when a payment
to it is created without an IBAN hold (the supplier's first payment: trust
on first use), or when an administrator approves a held payment to it. A
refused payment teaches nothing. Several IBANs may be known for one
supplier (a company may have several accounts); the latest is « the
previous IBAN » a hold names.

**Same supplier, same name.** Suppliers are told apart by their name as a
person reads it (``core.names``): its Unicode confusable skeleton (UTS #39:
Cyrillic « а » is « a », full-width and mathematical letters are letters,
the digit 0 is « o »), transliterated, without accents, case, punctuation,
legal forms (SARL, SAS…) or French articles (« Laiterie des Prés SARL » is
« laiterie pres »).
Two names are the same company's unless « clearly different »: they are
alike when, normalised, they are equal, one's words are all in the
other's (« Dupuis » and « Minoterie Dupuis »), or they read alike at 80 %
or more (difflib's ratio, words in either order: a typo, an extra letter).
So a new IBAN is held under a slightly changed name too, and an IBAN paid
under one name is held when paid under a clearly different one. Both
err towards holding: a false alarm costs a click (and, once approved, is
not raised again), a missed one a transfer.

Deciding is a conditional UPDATE from ``awaiting_approval``
(``payments.move_payments``): of two concurrent decisions on a payment,
exactly one applies. Only the account's administrators decide, on Libeo's
pages; the API (and so MEG) can never approve."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Row,
    String,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from core.banks import bank_name
from core.dates import date_fr, paris_today, utcnow
from core.db import rowcount
from core.money import format_amount
from core.names import mixed_script_words, name_key, name_words, names_match
from core.validators import mask_iban
from models.libeo.accounts.models import Account
from models.libeo.db import Model, db
from models.libeo.invoices.models import Invoice, invoice_number_key
from models.libeo.journal import record as journal
from models.libeo.payments.models import (
    ACTIVE_PAYMENT_STATUSES,
    InitiatorRole,
    Payment,
)

NEW_IBAN, NAME_MISMATCH, DUPLICATE, APPROVAL_RULE, MIXED_SCRIPTS = (
    "new_iban", "payee_name_mismatch", "duplicate_suspected", "approval_rule", "mixed_scripts",
)


# Holds that question the payee: its IBAN is learnt only once an administrator approves.
IBAN_HOLDS = frozenset({NEW_IBAN, NAME_MISMATCH, MIXED_SCRIPTS})


DUPLICATE_WINDOW = timedelta(days=7)


MAX_REASON_LENGTH = 300


KNOWN_NEAR_LIMIT = 200  # known IBANs a payment's checks read at most


class KnownSupplierIban(Model):
    """An IBAN the account has paid a supplier on (first payment, or approved by an administrator)."""

    __tablename__ = "known_supplier_iban"
    __table_args__ = (
        UniqueConstraint("account_id", "supplier_key", "iban", name="uq_known_supplier_iban"),
        # « This IBAN was paid before under another name »: looked up by IBAN.
        Index("ix_known_supplier_iban_iban", "account_id", "iban"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    supplier_key: Mapped[str] = mapped_column(String(200))  # supplier_key(name)
    supplier_name: Mapped[str] = mapped_column(String(200))  # the name as first paid
    iban: Mapped[str] = mapped_column(String(34))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # « premier paiement », or the administrator who approved it.
    recorded_by: Mapped[str] = mapped_column(String(254))
    # The bank rejected the last transfer to this IBAN for a reason of the account (closed,
    # blocked, not the payee's…), in French: paying it again would fail again. Cleared by a debit.
    rejected_reason: Mapped[str | None] = mapped_column(String(300))


# How names are compared is shared with MEG's supplier screens (core/names.py).
supplier_key = name_key


@dataclass
class Hold:
    reasons: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    # The IBANs known for the supplier (its exact key), as read for the checks; None when they
    # alone filled that read, which may then have missed some (``remember_iban`` reads them itself).
    supplier_ibans: frozenset[str] | None = None
    # Not a hold but a refusal: the bank rejected the last transfer to this IBAN for a reason of
    # the account (``rejected_reason``); the supplier's new IBAN is needed.
    rejected_iban: str | None = None

    def add(self, reason: str, detail: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        self.details.append(detail)

    def __bool__(self) -> bool:
        return bool(self.reasons)

    @property
    def questions_iban(self) -> bool:
        return bool(IBAN_HOLDS.intersection(self.reasons))


def _iban_shown(iban: str) -> str:
    bank = bank_name(iban)
    return f"{mask_iban(iban)} ({bank})" if bank else mask_iban(iban)


def holds_for(account: Account, invoice: Invoice, role: InitiatorRole, email: str) -> Hold:
    """Why a payment of ``invoice`` asked now should wait for an administrator; empty when it need not."""
    hold = Hold()
    _check_scripts(invoice, hold)
    _check_iban(account, invoice, hold)
    _check_duplicates(account, invoice, hold)
    _check_rules(account, invoice, role, email, hold)
    return hold


def _check_scripts(invoice: Invoice, hold: Hold) -> None:
    """A word of the supplier's name in several scripts: a disguise, whatever it imitates."""
    mixed = mixed_script_words(invoice.supplier_name)
    if mixed:
        hold.add(MIXED_SCRIPTS, (
            f"Nom du fournisseur en écritures mélangées : {' '.join(word.sentence() for word in mixed)} Un nom "
            "ainsi écrit imite souvent celui d'un fournisseur connu : vérifiez le fournisseur et son IBAN "
            "auprès de lui, par un numéro de téléphone que vous connaissez déjà."
        ))


def _check_iban(account: Account, invoice: Invoice, hold: Hold) -> None:
    key = supplier_key(invoice.supplier_name)
    known = _known_near(account, invoice, key)
    exact = [row.iban for row in known if row.supplier_key == key]
    if len(exact) < KNOWN_NEAR_LIMIT:  # read first: all of them, unless they alone fill the limit
        hold.supplier_ibans = frozenset(exact)
    known.sort(key=lambda row: (row.recorded_at, row.id), reverse=True)  # latest first
    # The supplier under any spelling close enough to be the same company (a renamed
    # supplier with a new IBAN is still held).
    alike = [names_match(row.supplier_name, invoice.supplier_name) for row in known]
    of_supplier = [row for row, same in zip(known, alike, strict=True) if same]
    if of_supplier and invoice.supplier_iban not in {row.iban for row in of_supplier}:
        previous = of_supplier[0]
        hold.add(NEW_IBAN, (
            f"Nouvel IBAN pour {invoice.supplier_name} : {_iban_shown(invoice.supplier_iban)}. Ce fournisseur a "
            f"été payé jusqu'ici sur l'IBAN {_iban_shown(previous.iban)} (enregistré le "
            f"{date_fr(paris_today(previous.recorded_at))}). Vérifiez ce changement auprès du fournisseur, "
            "par un numéro de téléphone que vous connaissez déjà."
        ))
    hold.rejected_iban = next(
        (row.rejected_reason for row in known if row.iban == invoice.supplier_iban and row.rejected_reason), None)
    others = [row for row, same in zip(known, alike, strict=True) if row.iban == invoice.supplier_iban and not same]
    if others:
        names = ", ".join(f"« {row.supplier_name} »" for row in others[:3])
        hold.add(NAME_MISMATCH, (
            f"L'IBAN {_iban_shown(invoice.supplier_iban)} a déjà été payé au nom de {names}, et non de "
            f"« {invoice.supplier_name} » : vérifiez que cet IBAN est bien celui de ce fournisseur."
        ))


def _known_near(account: Account, invoice: Invoice, key: str) -> list[Row]:
    """The account's known IBANs of this supplier, of this IBAN, or of suppliers whose name is near this one's.

    At most KNOWN_NEAR_LIMIT, the supplier's own first, then this IBAN's, then the latest others: an
    account with many suppliers sharing a word (« France », « Services ») never pushes the
    supplier's own IBANs out of the checks.
    """
    # Each word's first and last three letters: « dypont » (Cyrillic у) finds « dupont », a word with
    # a letter changed in its middle or at one end is still near.
    words = [word for word in name_words(invoice.supplier_name) if len(word) >= 3][:6]
    parts = list(dict.fromkeys(part for word in words for part in (word[:3], word[-3:])))
    values = {"account_id": account.id, "iban": invoice.supplier_iban, "key": key}
    values.update((f"word_{i}", part) for i, part in enumerate(parts))
    return list(db.session.execute(_known_near_statement(len(parts)), values).all())


# Every payment runs these: built once per shape (see models/libeo/keys.py).
@cache
def _known_near_statement(word_count: int):
    # Words are [0-9a-z]+ (``core.names.all_words``): nothing in them for LIKE to read as a wildcard.
    near = [KnownSupplierIban.supplier_key.contains(bindparam(f"word_{i}")) for i in range(word_count)]
    return (
        # Up to KNOWN_NEAR_LIMIT rows a payment: read as plain rows, not as objects the session tracks.
        select(KnownSupplierIban.id, KnownSupplierIban.supplier_name, KnownSupplierIban.supplier_key,
               KnownSupplierIban.iban, KnownSupplierIban.recorded_at, KnownSupplierIban.rejected_reason)
        .where(KnownSupplierIban.account_id == bindparam("account_id"),
               or_(KnownSupplierIban.iban == bindparam("iban"),
                   KnownSupplierIban.supplier_key == bindparam("key"), *near))
        .order_by(
            case((KnownSupplierIban.supplier_key == bindparam("key"), 0),
                 (KnownSupplierIban.iban == bindparam("iban"), 1), else_=2),
            KnownSupplierIban.recorded_at.desc(), KnownSupplierIban.id.desc(),
        )
        .limit(KNOWN_NEAR_LIMIT)
    )


@cache
def _duplicate_candidates():
    return (
        select(Invoice, Payment)
        .join(Payment, Payment.invoice_id == Invoice.id)
        .where(
            Invoice.account_id == bindparam("account_id"),
            Invoice.id != bindparam("invoice_id"),
            Payment.status.in_(ACTIVE_PAYMENT_STATUSES),
            or_(
                Invoice.number_key == bindparam("number"),
                and_(Invoice.amount_cents == bindparam("amount_cents"),
                     Invoice.issue_date.between(bindparam("issued_from"), bindparam("issued_to"))),
            ),
        )
        .order_by(Invoice.id)
        .limit(20)
    )


def _check_duplicates(account: Account, invoice: Invoice, hold: Hold) -> None:
    number = invoice_number_key(invoice.number)
    candidates = db.session.execute(_duplicate_candidates(), {
        "account_id": account.id, "invoice_id": invoice.id, "number": number, "amount_cents": invoice.amount_cents,
        "issued_from": invoice.issue_date - DUPLICATE_WINDOW, "issued_to": invoice.issue_date + DUPLICATE_WINDOW,
    }).all()
    for other, payment in candidates:
        if not names_match(other.supplier_name, invoice.supplier_name):
            continue
        if other.number_key == number:
            why = "porte le même numéro"
        elif other.amount_cents == invoice.amount_cents and other.issue_date == invoice.issue_date:
            why = "a le même montant et la même date"
        else:
            days = abs((other.issue_date - invoice.issue_date).days)
            why = f"a le même montant, à {days} jour{'s' if days > 1 else ''} d'écart"
        hold.add(DUPLICATE, (
            f"Doublon possible : la facture {other.number} de {other.supplier_name} ({other.amount_display}, "
            f"du {date_fr(other.issue_date)}) {why} ; son paiement : {payment.status_label}."
        ))


def _check_rules(account: Account, invoice: Invoice, role: InitiatorRole, email: str, hold: Hold) -> None:
    threshold = account.approval_threshold_cents
    if threshold is not None and invoice.amount_cents > threshold:
        hold.add(APPROVAL_RULE, (
            f"Montant de {invoice.amount_display}, au-delà de {format_amount(threshold)} : la règle du compte "
            "demande qu'un administrateur approuve ce paiement."
        ))
    if account.approve_accountant_payments and role is InitiatorRole.ACCOUNTANT:
        hold.add(APPROVAL_RULE, (
            f"Paiement initié par l'expert-comptable ({email}) : la règle du compte demande qu'un administrateur "
            "l'approuve."
        ))


def remember_iban(
    account_id: int, supplier_name: str, iban: str, recorded_by: str, actor: str,
    known: frozenset[str] | None = None,
) -> None:
    """Records ``iban`` as one of the supplier's (idempotent); the « Journal » says when it is new.

    ``known``: the supplier's known IBANs when the caller read them in this transaction (a
    payment's checks do), so they are not read twice.
    """
    key = supplier_key(supplier_name)
    already = known if known is not None else db.session.scalars(
        select(KnownSupplierIban.iban).where(KnownSupplierIban.account_id == account_id,
                                             KnownSupplierIban.supplier_key == key)
    ).all()
    if iban in already:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = rowcount(db.session.execute(
        insert(KnownSupplierIban)
        .values(account_id=account_id, supplier_key=key, supplier_name=supplier_name, iban=iban,
                recorded_at=utcnow(), recorded_by=recorded_by)
        .on_conflict_do_nothing(index_elements=["account_id", "supplier_key", "iban"])
    ))
    if not inserted:
        return  # a concurrent payment recorded it first, with its entry
    if already:
        journal(account_id, "iban.approved",
                f"Nouvel IBAN enregistré pour {supplier_name} : {_iban_shown(iban)} ({recorded_by}).", actor)
    else:
        journal(account_id, "iban.first_seen",
                f"IBAN vu pour la première fois pour {supplier_name} : {_iban_shown(iban)}.", actor)


def after_creation(payment: Payment, hold: Hold, actor: str) -> None:
    """What a new payment teaches and leaves in the « Journal »; before its event (lock order)."""
    if not hold.questions_iban:
        remember_iban(payment.account_id, payment.creditor_name, payment.creditor_iban, "premier paiement", actor,
                      hold.supplier_ibans)
    if hold:
        journal(payment.account_id, "payment.held",
                f"Paiement de la facture {payment.invoice.number} ({payment.amount_display} à "
                f"{payment.creditor_name}) retenu pour approbation : " + " ".join(hold.details),
                actor, payment.id)


def rejected_iban_refusal(iban: str, reason: str) -> str:
    """Why a payment to an IBAN the bank rejected for a reason of the account is refused, in French."""
    return (
        f"Le dernier virement vers l'IBAN {_iban_shown(iban)} a été rejeté par la banque : {reason}. Demandez au "
        "fournisseur son nouvel IBAN et enregistrez-le avant de payer à nouveau (le paiement vers ce nouvel IBAN "
        "sera vérifié comme tout changement d'IBAN)."
    )


def note_rejected_iban(payment: Payment) -> None:
    """The bank rejected ``payment`` for a reason of the payee's account: no payment to its IBAN until a
    debit to it shows the account works again. In the « Journal »."""
    reason = (payment.failure_reason or "").removeprefix("Rejeté : ")[:300] or "motif non communiqué"
    updated = rowcount(db.session.execute(
        update(KnownSupplierIban)
        .where(KnownSupplierIban.account_id == payment.account_id, KnownSupplierIban.iban == payment.creditor_iban)
        .values(rejected_reason=reason)
        .execution_options(synchronize_session=False)
    ))
    if not updated:
        db.session.add(KnownSupplierIban(
            account_id=payment.account_id, supplier_key=supplier_key(payment.creditor_name),
            supplier_name=payment.creditor_name, iban=payment.creditor_iban, recorded_at=utcnow(),
            recorded_by="virement rejeté par la banque", rejected_reason=reason,
        ))
    journal(payment.account_id, "iban.rejected",
            f"IBAN {_iban_shown(payment.creditor_iban)} de {payment.creditor_name} refusé par la banque ({reason}) : "
            "plus de paiement vers cet IBAN sans le nouvel IBAN du fournisseur.", None, payment.id)


def note_working_ibans(account_id: int, ibans: set[str]) -> None:
    """Transfers to ``ibans`` were debited: those accounts work (again)."""
    if not ibans:
        return
    db.session.execute(
        update(KnownSupplierIban)
        .where(KnownSupplierIban.account_id == account_id, KnownSupplierIban.iban.in_(sorted(ibans)),
               KnownSupplierIban.rejected_reason.is_not(None))
        .values(rejected_reason=None)
        .execution_options(synchronize_session=False)
    )
