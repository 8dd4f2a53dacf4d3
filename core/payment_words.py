"""The words both products use for a payment Libeo makes: why it is held, and where it stands on its
way to the bank. MEG shows the state Libeo reports in Libeo's own words, so a person reads the same
sentence on both sides."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from core.dates import as_utc, date_fr, paris_today
from core.french import after_colon

# What each safeguard's code (Libeo's API: ``hold_reasons``) means.
HOLD_LABELS = {
    "new_iban": "nouvel IBAN du fournisseur",
    "duplicate_suspected": "doublon possible",
    "payee_name_mismatch": "nom du bénéficiaire différent pour cet IBAN",
    "approval_rule": "règle d'approbation du compte",
    "mixed_scripts": "nom du fournisseur en écritures mélangées",
}
FILE_READY_LABEL = "Fichier prêt — à transmettre à votre banque"


class BankLeg(Protocol):
    """What a payment's record keeps of its way to the bank (Libeo's payment, MEG's attempt)."""

    @property
    def execution_date(self) -> date | None: ...

    @property
    def transmitted_at(self) -> datetime | None: ...

    @property
    def accepted_at(self) -> datetime | None: ...

    @property
    def bank_status(self) -> str | None: ...


def bank_leg_label(state: str, payment: BankLeg) -> str | None:
    """« Programmé le 12/10/2026 », « Fichier prêt — … », « Transmis à la banque le … », « Accepté par la
    banque le … (ACCP) » for a payment in one of those states (Libeo's names: ``scheduled``…); None in
    any other."""
    if state == "scheduled":
        return f"Programmé le {date_fr(payment.execution_date)}"
    if state == "file_ready":
        return FILE_READY_LABEL
    if state == "transmitted":
        return dated("Transmis à la banque", payment.transmitted_at)
    if state == "accepted":
        label = dated("Accepté par la banque", payment.accepted_at)
        return f"{label} ({payment.bank_status})" if payment.bank_status else label
    return None


def dated(words: str, moment: datetime | None) -> str:
    """« Transmis à la banque le 10/10/2026 » (the Paris day of ``moment``), or the words alone."""
    return f"{words} le {date_fr(paris_today(as_utc(moment)))}" if moment else words


def rejection_label(reason: str | None) -> str:
    """A transfer the bank rejected, with its reason (« Rejeté : compte clôturé »), the same words in both
    products: a reason already worded as a rejection (« Rejeté par la banque — retourné le … ») as it is."""
    reason = (reason or "").strip()
    if not reason:
        return "Rejeté par la banque"
    return reason if reason.startswith("Rejeté") else f"Rejeté : {reason}"


def waiting_words(blocker: str | None) -> str | None:
    """What keeps an account's scheduled payments from being executed, in the few words a list shows after
    « — en attente : » in both products (« aucun IBAN du compte à débiter »): the blocker's sentence up to its
    colon."""
    return after_colon(blocker.split(" : ", 1)[0]) if blocker else None


def cancelled_label(refusal: str | None) -> str:
    """A cancelled payment, the same words in both products: « Annulé », and when an administrator refused it
    at its approval, why (« Annulé — approbation refusée : RIB non confirmé »)."""
    refusal = (refusal or "").strip()
    return f"Annulé — approbation refusée : {refusal}" if refusal else "Annulé"
