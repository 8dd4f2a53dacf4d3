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
on first use; one held for its amount alone teaches it too, so that another
IBAN asked for meanwhile is held as new), or when an administrator approves
a held payment to it. A refused payment teaches nothing: what it taught when
it was created is forgotten (:func:`forget_refused_iban`), unless another
payment taught it too. Several IBANs may be known for one supplier (a
company may have several accounts); the latest is « the previous IBAN » a
hold names.

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

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from operator import itemgetter
from typing import NamedTuple

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
    cast,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from core.banks import bank_name
from core.dates import as_utc, date_fr, paris_today, utcnow
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


# Holds that question the payee: a payment so held never taught its IBAN, whatever the rule of its day.
IBAN_HOLDS = frozenset({NEW_IBAN, NAME_MISMATCH, MIXED_SCRIPTS})


DUPLICATE_WINDOW = timedelta(days=7)


MAX_REASON_LENGTH = 300


KNOWN_NEAR_LIMIT = 200  # known IBANs a payment's checks read at most


DUPLICATES_READ = 20  # other invoices a payment's duplicate check reads at most


FIRST_PAYMENT = "premier paiement"  # who recorded an IBAN learnt from a payment (trust on first use)


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


def _iban_shown(iban: str) -> str:
    bank = bank_name(iban)
    return f"{mask_iban(iban)} ({bank})" if bank else mask_iban(iban)


def holds_for(account: Account, invoice: Invoice, role: InitiatorRole, email: str) -> Hold:
    """Why a payment of ``invoice`` asked now should wait for an administrator; empty when it need not."""
    known = _known_near(account, invoice, supplier_key(invoice.supplier_name))
    return _holds(account, invoice, role, email, known, _duplicate_candidates_of(account, invoice))


def _holds(account: Account, invoice: Invoice, role: InitiatorRole, email: str, known: list,
           candidates: list) -> Hold:
    """The checks, given what they read: the known IBANs near the supplier (``_known_near``'s rows, in its
    order) and the other invoices paid or being paid that may be this one (``_duplicate_candidates_of``)."""
    hold = Hold()
    _check_scripts(invoice, hold)
    _check_iban(invoice, hold, known)
    _check_duplicates(invoice, hold, candidates)
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


def _check_iban(invoice: Invoice, hold: Hold, known: list) -> None:
    key = supplier_key(invoice.supplier_name)
    known = list(known)
    exact = [row.iban for row in known if row.supplier_key == key]
    if len(exact) < KNOWN_NEAR_LIMIT:  # read first: all of them, unless they alone fill the limit
        hold.supplier_ibans = frozenset(exact)
    known.sort(key=lambda row: (as_utc(row.recorded_at), row.id), reverse=True)  # latest first
    # The supplier under any spelling close enough to be the same company (a renamed
    # supplier with a new IBAN is still held).
    alike = [names_match(row.supplier_name, invoice.supplier_name) for row in known]
    of_supplier = [row for row, same in zip(known, alike, strict=True) if same]
    if of_supplier and invoice.supplier_iban not in {row.iban for row in of_supplier}:
        previous = of_supplier[0]
        if previous.rejected_reason:
            # The old account was closed (the bank said so): the change is expected, yet who gives the new IBAN
            # is exactly what a fraud imitates.
            before = (f"Le dernier virement vers son IBAN précédent, {_iban_shown(previous.iban)}, a été rejeté par "
                      f"la banque : {previous.rejected_reason}.")
        else:
            before = (f"Ce fournisseur a été payé jusqu'ici sur l'IBAN {_iban_shown(previous.iban)}, enregistré le "
                      f"{date_fr(paris_today(as_utc(previous.recorded_at)))}.")
        hold.add(NEW_IBAN, (
            f"Nouvel IBAN pour {invoice.supplier_name} : {_iban_shown(invoice.supplier_iban)}. {before} Vérifiez ce "
            "changement auprès du fournisseur, par un numéro de téléphone que vous connaissez déjà."
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
    parts = _near_parts(invoice.supplier_name)
    values = {"account_id": account.id, "iban": invoice.supplier_iban, "key": key}
    values.update((f"word_{i}", part) for i, part in enumerate(parts))
    return list(db.session.execute(_known_near_statement(len(parts)), values).all())


def _near_parts(supplier_name: str) -> list[str]:
    """What makes another supplier's name near this one's: each word's first and last three letters
    (« dypont », Cyrillic у, finds « dupont »; a word with a letter changed in its middle or at one end is
    still near)."""
    words = [word for word in name_words(supplier_name) if len(word) >= 3][:6]
    return list(dict.fromkeys(part for word in words for part in (word[:3], word[-3:])))


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
        .limit(DUPLICATES_READ)
    )


def _duplicate_candidates_of(account: Account, invoice: Invoice) -> list:
    """The account's other invoices paid or being paid with the same number, or the same amount within
    DUPLICATE_WINDOW of the same issue date: (invoice, its active payment), by invoice id, 20 at most."""
    return list(db.session.execute(_duplicate_candidates(), {
        "account_id": account.id, "invoice_id": invoice.id, "number": invoice_number_key(invoice.number),
        "amount_cents": invoice.amount_cents,
        "issued_from": invoice.issue_date - DUPLICATE_WINDOW, "issued_to": invoice.issue_date + DUPLICATE_WINDOW,
    }).all())


def _check_duplicates(invoice: Invoice, hold: Hold, candidates: list) -> None:
    number = invoice_number_key(invoice.number)
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


def approvals_required(account: Account, amount_cents: int) -> int:
    """Two approvals above the account's « deux approbateurs » amount (strictly), one otherwise."""
    dual = account.dual_approval_above_cents
    return 2 if dual is not None and amount_cents > dual else 1


# How the hold of « Les paiements initiés par l'expert-comptable doivent être approuvés » begins: kept with the
# payment, it tells that rule from the amounts' (``held_by_accountant_rule``) whatever the rules are now.
ACCOUNTANT_RULE = "Paiement initié par l'expert-comptable"


def _check_rules(account: Account, invoice: Invoice, role: InitiatorRole, email: str, hold: Hold) -> None:
    threshold = account.approval_threshold_cents
    if approvals_required(account, invoice.amount_cents) > 1:
        hold.add(APPROVAL_RULE, (
            f"Montant de {invoice.amount_display}, au-delà de {format_amount(account.dual_approval_above_cents)} : "
            "la règle du compte demande que deux approbateurs approuvent ce paiement."
        ))
    elif threshold is not None and invoice.amount_cents > threshold:
        hold.add(APPROVAL_RULE, (
            f"Montant de {invoice.amount_display}, au-delà de {format_amount(threshold)} : la règle du compte "
            "demande qu'un administrateur approuve ce paiement."
        ))
    if account.approve_accountant_payments and role is InitiatorRole.ACCOUNTANT:
        hold.add(APPROVAL_RULE, (
            f"{ACCOUNTANT_RULE} ({email}) : la règle du compte demande qu'un administrateur l'approuve."
        ))


def held_by_accountant_rule(payment: Payment) -> bool:
    """Held because the account asks an administrator to approve what its expert-comptable asked for."""
    return (payment.initiated_by_role is InitiatorRole.ACCOUNTANT
            and APPROVAL_RULE in (payment.hold_reasons or ())
            and any(detail.startswith(ACCOUNTANT_RULE) for detail in payment.hold_details or ()))


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
    _journal_iban(account_id, supplier_name, iban, recorded_by, actor, first_seen=not already)


def _journal_iban(account_id: int, supplier_name: str, iban: str, recorded_by: str, actor: str, *,
                  first_seen: bool) -> None:
    journal(**_iban_entry(account_id, supplier_name, iban, recorded_by, actor, first_seen=first_seen))


def _iban_entry(account_id: int, supplier_name: str, iban: str, recorded_by: str, actor: str, *,
                first_seen: bool) -> dict:
    if first_seen:
        return {"account_id": account_id, "kind": "iban.first_seen", "actor": actor,
                "message": f"IBAN vu pour la première fois pour {supplier_name} : {_iban_shown(iban)}."}
    return {"account_id": account_id, "kind": "iban.approved", "actor": actor,
            "message": f"Nouvel IBAN enregistré pour {supplier_name} : {_iban_shown(iban)} ({recorded_by})."}


def after_creation(payment: Payment, hold: Hold, actor: str) -> None:
    """What a new payment teaches and leaves in the « Journal »; before its event (lock order).

    A payment held for its payee (a new IBAN, another name on it, mixed scripts) teaches its IBAN only once
    approved (``approve_payment``); one held for another reason (its amount, a possible duplicate) teaches it
    now, so that another IBAN for the supplier asked for while it waits is held as new — and forgets it if
    it is refused (``forget_refused_iban``)."""
    if not IBAN_HOLDS.intersection(hold.reasons):
        remember_iban(payment.account_id, payment.creditor_name, payment.creditor_iban, FIRST_PAYMENT, actor,
                      hold.supplier_ibans)
    note_held(payment, hold, actor)


# Another payment of the account to the IBAN taught it: created without a hold (its hold reasons SQL or JSON
# null), or approved (decided, and not refused).
_TAUGHT_BY_ANOTHER = (
    select(Payment.id)
    .where(Payment.account_id == bindparam("account_id"), Payment.creditor_iban == bindparam("iban"),
           Payment.id != bindparam("payment_id"),
           or_(func.coalesce(cast(Payment.hold_reasons, String), "null") == "null",
               and_(Payment.decided_by.is_not(None), Payment.cancel_reason.is_(None))))
    .exists()
)


def forget_refused_iban(payment: Payment, actor: str) -> None:
    """``payment`` is refused: the IBAN it taught when it was created held for another reason than its payee
    (``after_creation``) is forgotten, in the « Journal », unless another payment to it taught it for good
    (created without a hold, or approved), or the bank rejected a transfer to it (kept: it refuses the
    next). Before the payment's event (lock order)."""
    if IBAN_HOLDS.intersection(payment.hold_reasons or ()):
        return  # questioned for its payee: it taught nothing
    values = {"account_id": payment.account_id, "iban": payment.creditor_iban, "payment_id": payment.id}
    forgotten = rowcount(db.session.execute(
        delete(KnownSupplierIban)
        .where(KnownSupplierIban.account_id == payment.account_id,
               KnownSupplierIban.supplier_key == supplier_key(payment.creditor_name),
               KnownSupplierIban.iban == payment.creditor_iban, KnownSupplierIban.recorded_by == FIRST_PAYMENT,
               KnownSupplierIban.rejected_reason.is_(None), ~_TAUGHT_BY_ANOTHER)
        .execution_options(synchronize_session=False),
        values,
    ))
    if forgotten:
        journal(payment.account_id, "iban.forgotten",
                f"IBAN {_iban_shown(payment.creditor_iban)} oublié pour {payment.creditor_name} : le paiement de la "
                f"facture {payment.invoice.number} qui l'avait appris a été refusé.", actor, payment.id)


def note_held(payment: Payment, hold: Hold, actor: str) -> None:
    """A payment created held: the « Journal » says why."""
    if hold:
        journal(**held_entry(payment, hold, actor))


def held_entry(payment: Payment, hold: Hold, actor: str) -> dict:
    """The « Journal » entry of a payment created held (``journal.record``'s arguments)."""
    return {"account_id": payment.account_id, "kind": "payment.held", "actor": actor, "payment_id": payment.id,
            "message": f"Paiement de la facture {payment.invoice.number} ({payment.amount_display} à "
                       f"{payment.creditor_name}) retenu pour approbation : " + " ".join(hold.details)}


def rejected_iban_refusal(iban: str, reason: str, from_meg: bool = False) -> str:
    """Why a payment to an IBAN the bank rejected for a reason of the account is refused, in French; where to
    record the new one (MEG's supplier for an invoice MEG sent, the invoice's page in Libeo otherwise)."""
    where = ("dans MEG (fiche du fournisseur), qui l'enverra à Libeo," if from_meg
             else "sur la page de la facture (« Modifier l'IBAN du fournisseur »)")
    return (
        f"Le dernier virement vers l'IBAN {_iban_shown(iban)} a été rejeté par la banque : {reason}. Demandez au "
        f"fournisseur son nouvel IBAN et enregistrez-le {where} avant de payer à nouveau (le paiement vers ce "
        "nouvel IBAN sera vérifié comme tout changement d'IBAN)."
    )


def rejected_ibans(account_id: int, ibans: set[str]) -> dict[str, str]:
    """Those of ``ibans`` the bank rejected a transfer to for a reason of the account, not debited since, with
    that reason: invoices to them wait for the supplier's new IBAN (one query, none without IBANs)."""
    if not ibans:
        return {}
    rows = db.session.execute(
        select(KnownSupplierIban.iban, KnownSupplierIban.rejected_reason)
        .where(KnownSupplierIban.account_id == account_id, KnownSupplierIban.iban.in_(sorted(ibans)),
               KnownSupplierIban.rejected_reason.is_not(None))
    )
    return {iban: reason for iban, reason in rows if reason}


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
            f"IBAN {_iban_shown(payment.creditor_iban)} de {payment.creditor_name} refusé par la banque — {reason} : "
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


# --- Several payments checked in turn, in one transaction (``POST /payment-batches``) ---------------------

# Beyond any id a table holds: an IBAN a payment of the batch taught, not written yet, sorts as the latest.
_UNWRITTEN_ID = 1 << 62
# Items (or name parts) per read: SQLite bounds an expression's depth (1000), and each OR adds one.
_PER_READ = 128


class Learnt(NamedTuple):
    """An IBAN a payment of the batch taught (trust on first use), read as its ``KnownSupplierIban`` row will be."""

    id: int
    supplier_name: str
    supplier_key: str
    iban: str
    recorded_at: datetime
    first_seen: bool  # the supplier had no known IBAN: the « Journal » says « vu pour la première fois »
    rejected_reason: str | None = None


class HoldsInTurn:
    """The safeguards of payments created one after another in one transaction: each payment checked as
    :func:`holds_for` would check it alone, after the payments created before it in the transaction.

    What the checks read is read once for all the invoices (``_known_near``'s and ``_duplicate_candidates``'
    rows of each, in one statement each): then each check keeps its own rows, adds those of the payments
    created before it (their invoices as possible duplicates, the IBANs they taught as known), and keeps
    the same order and limits as the single checks. Tell it each payment created (:meth:`created`).
    """

    def __init__(self, account: Account, invoices: list[Invoice], now: datetime) -> None:
        self.account, self.now = account, now
        # Latest first, as _known_near_statement orders them, keyed once: each check filters these rows
        # (all the account's IBANs near any invoice of the batch: hundreds where names share a syllable).
        self._known = sorted((((as_utc(row.recorded_at), row.id), row)
                              for row in (_known_near_all(account, invoices) if invoices else [])),
                             key=itemgetter(0), reverse=True)
        self._candidates = _duplicate_candidates_all(account, invoices) if invoices else []
        self._learnt: list[Learnt] = []
        self._created: list[tuple[int, Invoice, Payment]] = []  # (the id it sorts by, invoice, payment)

    def holds_for(self, invoice: Invoice, role: InitiatorRole, email: str) -> Hold:
        return _holds(self.account, invoice, role, email, self._known_near(invoice), self._duplicates_of(invoice))

    def _known_near(self, invoice: Invoice) -> list:
        key, iban = supplier_key(invoice.supplier_name), invoice.supplier_iban
        parts = _near_parts(invoice.supplier_name)
        # Any part anywhere in the key, as the statement's LIKEs: one search per row (parts are [0-9a-z]+).
        near = re.compile("|".join(map(re.escape, parts))).search if parts else None

        def kept(row) -> bool:
            return (row.iban == iban or row.supplier_key == key
                    or (near is not None and near(row.supplier_key) is not None))

        keyed = [pair for pair in self._known if kept(pair[1])]
        keyed += [((as_utc(row.recorded_at), row.id), row) for row in self._learnt if kept(row)]
        # _known_near_statement's order: the supplier's own, then this IBAN's, then the others; latest first.
        keyed.sort(key=itemgetter(0), reverse=True)
        rows = [row for _, row in keyed]
        rows.sort(key=lambda row: 0 if row.supplier_key == key else 1 if row.iban == iban else 2)
        return rows[:KNOWN_NEAR_LIMIT]

    def _duplicates_of(self, invoice: Invoice) -> list:
        number = invoice_number_key(invoice.number)
        issued_from, issued_to = invoice.issue_date - DUPLICATE_WINDOW, invoice.issue_date + DUPLICATE_WINDOW

        def alike(other: Invoice) -> bool:
            return other.number_key == number or (other.amount_cents == invoice.amount_cents
                                                  and issued_from <= other.issue_date <= issued_to)

        found = [(other.id, other, payment) for other, payment in self._candidates
                 if other.id != invoice.id and alike(other)]
        found += [(order, other, payment) for order, other, payment in self._created
                  if other is not invoice and (other.id is None or other.id != invoice.id) and alike(other)]
        found.sort(key=lambda row: row[0])
        return [(other, payment) for _, other, payment in found[:DUPLICATES_READ]]

    def created(self, invoice: Invoice, payment: Payment, hold: Hold) -> Learnt | None:
        """``payment`` of ``invoice`` (as they will be written) is created with ``hold``: the payments checked
        next see it. Returns the IBAN it teaches, if any, as ``after_creation`` says (``remember_learnt``
        writes it)."""
        order = invoice.id if invoice.id is not None else _UNWRITTEN_ID + len(self._created)
        self._created.append((order, invoice, payment))
        if IBAN_HOLDS.intersection(hold.reasons):
            return None  # held for its payee: teaches once approved
        key = supplier_key(payment.creditor_name)
        already = hold.supplier_ibans
        if already is None:  # the supplier's known IBANs filled the checks' read: read them all
            already = frozenset(db.session.scalars(
                select(KnownSupplierIban.iban).where(KnownSupplierIban.account_id == self.account.id,
                                                     KnownSupplierIban.supplier_key == key)
            )) | {row.iban for row in self._learnt if row.supplier_key == key}
        if payment.creditor_iban in already:
            return None
        learnt = Learnt(_UNWRITTEN_ID + len(self._learnt), payment.creditor_name, key, payment.creditor_iban, self.now,
                        first_seen=not already)
        self._learnt.append(learnt)
        return learnt


def remember_learnt(account_id: int, learnt: list[Learnt]) -> set[tuple[str, str]]:
    """Records the IBANs a batch taught, in one statement; the (supplier key, IBAN) recorded by it (one a
    concurrent payment recorded first is not: its « Journal » entry is that payment's)."""
    if not learnt:
        return set()
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = db.session.execute(
        insert(KnownSupplierIban)
        .on_conflict_do_nothing(index_elements=["account_id", "supplier_key", "iban"])
        .returning(KnownSupplierIban.supplier_key, KnownSupplierIban.iban),
        [{"account_id": account_id, "supplier_key": row.supplier_key, "supplier_name": row.supplier_name,
          "iban": row.iban, "recorded_at": row.recorded_at, "recorded_by": FIRST_PAYMENT} for row in learnt],
    )
    return {(key, iban) for key, iban in rows}


def learnt_entry(account_id: int, learnt: Learnt, actor: str) -> dict:
    """The « Journal » entry of an IBAN a payment of a batch taught, as ``remember_iban`` writes it
    (``journal.record``'s arguments)."""
    return _iban_entry(account_id, learnt.supplier_name, learnt.iban, FIRST_PAYMENT, actor,
                       first_seen=learnt.first_seen)


def _slots(count: int) -> int:
    """A statement's number of slots for ``count`` values: a power of two, so that few shapes are built."""
    return 1 << max(count - 1, 0).bit_length()


def _padded(values: list, slots: int) -> list:
    return values + values[-1:] * (slots - len(values))  # repeating a value finds nothing more


def _known_near_all(account: Account, invoices: list[Invoice]) -> list:
    """The known IBANs ``_known_near`` would read for any of ``invoices`` (more, never fewer: unlimited)."""
    ibans = sorted({invoice.supplier_iban for invoice in invoices})
    keys = sorted({supplier_key(invoice.supplier_name) for invoice in invoices})
    parts = list(dict.fromkeys(part for invoice in invoices for part in _near_parts(invoice.supplier_name)))
    found: dict[int, Row] = {}
    for start in range(0, max(len(parts), 1), _PER_READ):
        chunk = parts[start:start + _PER_READ]
        slots = _slots(len(chunk)) if chunk else 0
        values = {"account_id": account.id, "ibans": ibans, "keys": keys}
        values.update((f"word_{i}", part) for i, part in enumerate(_padded(chunk, slots)))
        for row in db.session.execute(_known_near_all_statement(slots), values):
            found[row.id] = row
    return list(found.values())


@cache
def _known_near_all_statement(word_count: int):
    near = [KnownSupplierIban.supplier_key.contains(bindparam(f"word_{i}")) for i in range(word_count)]
    return (
        select(KnownSupplierIban.id, KnownSupplierIban.supplier_name, KnownSupplierIban.supplier_key,
               KnownSupplierIban.iban, KnownSupplierIban.recorded_at, KnownSupplierIban.rejected_reason)
        .where(KnownSupplierIban.account_id == bindparam("account_id"),
               or_(KnownSupplierIban.iban.in_(bindparam("ibans", expanding=True)),
                   KnownSupplierIban.supplier_key.in_(bindparam("keys", expanding=True)), *near))
    )


def _duplicate_candidates_all(account: Account, invoices: list[Invoice]) -> list:
    """The (invoice, active payment) pairs ``_duplicate_candidates`` would read for any of ``invoices`` (more,
    never fewer: unlimited, and each invoice's own included), by invoice id."""
    found: dict[int, tuple[Invoice, Payment]] = {}
    for start in range(0, len(invoices), _PER_READ):
        chunk = _padded(invoices[start:start + _PER_READ], _slots(len(invoices[start:start + _PER_READ])))
        values: dict = {"account_id": account.id,
                        "numbers": sorted({invoice_number_key(invoice.number) for invoice in chunk})}
        for i, invoice in enumerate(chunk):
            values.update({f"amount_{i}": invoice.amount_cents, f"from_{i}": invoice.issue_date - DUPLICATE_WINDOW,
                           f"to_{i}": invoice.issue_date + DUPLICATE_WINDOW})
        for other, payment in db.session.execute(_duplicate_candidates_all_statement(len(chunk)), values):
            found[other.id] = (other, payment)
    return [found[invoice_id] for invoice_id in sorted(found)]


@cache
def _duplicate_candidates_all_statement(count: int):
    # The account in every term of the OR, not once beside it: SQLite then reads each term through its index
    # (« MULTI-INDEX OR »: ix_invoice_number_key, ix_invoice_amount) instead of every invoice of the account
    # (11 ms for an account of 10,000 invoices, 0.5 ms so).
    account = Invoice.account_id == bindparam("account_id")
    same_amount = [and_(account, Invoice.amount_cents == bindparam(f"amount_{i}"),
                        Invoice.issue_date.between(bindparam(f"from_{i}"), bindparam(f"to_{i}"))) for i in range(count)]
    return (
        select(Invoice, Payment)
        .join(Payment, Payment.invoice_id == Invoice.id)
        .where(Payment.status.in_(ACTIVE_PAYMENT_STATUSES),
               or_(and_(account, Invoice.number_key.in_(bindparam("numbers", expanding=True))), *same_amount))
    )
