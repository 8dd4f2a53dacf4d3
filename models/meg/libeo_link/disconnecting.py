"""« Supprimer la connexion » without leaving MEG blind.

The payments MEG already asked for keep their life after the connection is
removed: executed, debited or rejected by the bank. So MEG first lists them
(and offers to cancel those Libeo still can), then gives the key up with
``DELETE /key``: Libeo narrows it to reading the account's payments and
events while any is in flight, and MEG keeps reading the feed with it
(« Connexion supprimée — suivi des N paiements en cours ») until the last
one has ended. Only then is the key forgotten; the row keeps the feed's
cursor, so that a key of the same Libeo account pasted later resumes the
feed where it stopped.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from core.dates import utcnow
from models.meg.companies.models import Company, User
from models.meg.db import db
from models.meg.journal import record as journal
from models.meg.libeo_link.attempts import PaymentState, in_flight_count, unknown_outcomes
from models.meg.libeo_link.client import LibeoApiError, LibeoKeyRefused
from models.meg.libeo_link.connection import ConnectionState, LibeoConnection, LibeoLinkError, connection_of
from models.meg.libeo_link.paying import give_up


@dataclass(frozen=True)
class Disconnection:
    reached: bool  # Libeo answered (the key is revoked, or retired to follow the payments)
    following: int  # payments MEG keeps following


def disconnect_company(company: Company, user: User | None = None) -> Disconnection:
    """« Supprimer la connexion »: « Payer » stops at once; the payments in flight are followed to their end.

    Libeo revokes the key when nothing is left to follow, or narrows it to
    reading (see the module). When Libeo cannot be reached and nothing is in
    flight, the key is forgotten all the same, and stays valid in Libeo until
    revoked there; with payments in flight MEG keeps it to follow them.
    """
    connection = connection_of(company)
    if connection is None or connection.is_removed:
        return Disconnection(reached=True, following=in_flight_count(company.id) if connection else 0)
    # The requests whose answer MEG never heard: Libeo tells what it did with each (followed then like any
    # payment), and closes those it never received (« Non envoyé »: never counted as in flight).
    for attempt in unknown_outcomes(company.id):
        if attempt.idempotency_key:
            with contextlib.suppress(LibeoLinkError):
                give_up(connection, attempt)
            if attempt.status is PaymentState.REQUESTED and connection.last_error:
                break  # Libeo did not answer: the sync pass asks again with the key MEG keeps
    in_flight = in_flight_count(company.id)
    try:
        retired = connection.client(attempts=1).delete_key(connection.events_cursor)
        reached = True
    except LibeoKeyRefused:
        retired, reached = False, True  # already refused by Libeo: nothing left to give up, nor to read with
    except (LibeoApiError, LibeoLinkError):
        retired, reached = bool(in_flight), False
    connection.removed_at = utcnow()
    following = in_flight if retired else 0
    if reached:
        outcome = (f" : Libeo ne laisse plus la clé que lire les paiements, pour suivre les {in_flight} en cours."
                   if retired else " : Libeo a révoqué la clé.")
    else:
        outcome = " : Libeo injoignable, la clé reste valable dans Libeo." + (
            f" MEG la garde pour suivre les {in_flight} paiement(s) en cours." if following else "")
    journal(company, "connection.removed",
            f"Connexion à Libeo supprimée (compte « {connection.account_name} », clé {connection.key_prefix}…)"
            + outcome, user)
    if not retired:
        forget_key(connection)
    db.session.flush()
    return Disconnection(reached=reached, following=following)


def forget_key(connection: LibeoConnection) -> None:
    """The end of a removed connection: the key is forgotten, the feed's cursor kept."""
    connection.state, connection.state_since = ConnectionState.REMOVED, utcnow()
    connection.key_ciphertext = ""
    connection.sync_claimed_until = None


def end_following_if_done(connection: LibeoConnection) -> bool:
    """After the feed was read to its end: a removed connection with nothing left in flight forgets its key."""
    if not connection.is_removed or connection.state is ConnectionState.REMOVED:
        return False
    if in_flight_count(connection.company_id):
        return False
    cursor = connection.events_cursor
    db.session.commit()  # no transaction held while Libeo is called
    # Libeo revokes the key now that MEG has read everything (it may have done so already).
    with contextlib.suppress(LibeoApiError, LibeoLinkError):
        connection.client(attempts=1).delete_key(cursor)
    journal(connection.company, "connection.followed",
            "Les paiements demandés à Libeo avant la suppression de la connexion sont tous terminés : MEG ne "
            f"conserve plus la clé {connection.key_prefix}….")
    forget_key(connection)
    return True
