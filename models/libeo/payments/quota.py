"""The plan's monthly quota of payments, counted by the database.

``PaymentQuota.consume`` is one conditional upsert of a counter row: under any
concurrency, on SQLite and PostgreSQL, a month never counts more payments than
the plan allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, case, select, text, update
from werkzeug.utils import (
    cached_property,  # not functools': on 3.11 it locks every instance while one computes
)

from core.dates import as_utc, paris_now
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.payments.models import (
    PaymentUsage,
)


def quota_month(moment: datetime | None = None) -> str:
    """The Paris calendar month a payment made at ``moment`` counts in: « 2026-11 »."""
    return paris_now(as_utc(moment) if moment else None).strftime("%Y-%m")


# Built once (``GET /me`` runs it on every call): a reused statement keeps its cache key.
_USED_THIS_MONTH = select(PaymentUsage.payment_count).where(
    PaymentUsage.account_id == bindparam("account_id"), PaymentUsage.month == bindparam("month")
)


@dataclass
class PaymentQuota:
    """The payments an account may still make this calendar month (Europe/Paris)."""

    account: Account
    month: str

    @classmethod
    def for_account(cls, account: Account, now: datetime | None = None) -> PaymentQuota:
        return cls(account, quota_month(now))

    @classmethod
    def known(cls, account, month: str, used: int) -> PaymentQuota:
        """The quota of ``month`` whose count was read already (with the API key, whose account summary
        has the id and ``payment_limit`` a quota reads)."""
        quota = cls(account, month)
        quota.used = used  # cached: the ``used`` property reads no more
        return quota

    @property
    def limit(self) -> int | None:
        return self.account.payment_limit

    @cached_property
    def used(self) -> int:
        count = db.session.scalar(_USED_THIS_MONTH, {"account_id": self.account.id, "month": self.month})
        return count or 0

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def summary(self) -> str:
        """« 3 / 5 paiements ce mois-ci », or « 12 paiements ce mois-ci — illimité »."""
        if self.limit is None:
            word = "paiements" if self.used > 1 else "paiement"
            return f"{self.used} {word} ce mois-ci — illimité"
        return f"{self.used} / {self.limit} paiements ce mois-ci"

    def consume(self) -> bool:
        """Counts one payment if the plan allows it; False when the month is used up.

        Never count-then-insert: one statement creates the month's row
        counting this payment, or adds it to the existing row if the plan
        allows (an upsert whose UPDATE is conditional), and holds the row
        until commit, so concurrent payments of the account go one after another.
        """
        if self.limit is not None and self.limit < 1:
            return False
        values = {"usage_account": self.account.id, "usage_month": self.month}
        if self.limit is not None:
            values["usage_limit"] = self.limit
        statement = _COUNT_ONE_UNLIMITED if self.limit is None else _COUNT_ONE_LIMITED
        counted = db.session.connection().execute(statement, values).scalar()
        if counted is None:
            self.__dict__.pop("used", None)
            return False
        self.used = counted  # the month's count with this payment, read by the same statement
        return True

    @property
    def just_used_up(self) -> bool:
        """After ``consume``: this payment was the last the plan allows this month."""
        return self.limit is not None and self.__dict__.get("used") == self.limit

    def release(self) -> None:
        """Gives back one payment of the month (a cancelled one); never below zero."""
        db.session.execute(
            update(PaymentUsage)
            .where(
                PaymentUsage.account_id == self.account.id,
                PaymentUsage.month == self.month,
                PaymentUsage.payment_count > 0,
            )
            .values(payment_count=PaymentUsage.payment_count - 1)
            .execution_options(synchronize_session=False)
        )
        self.__dict__.pop("used", None)


# The month's row with this payment counted: inserted at 1, or its count + 1 (below the limit when
# the plan has one). Written as SQL, the same on SQLite and PostgreSQL: SQLAlchemy cannot cache a
# dialect's upsert, and would compile it again for every payment (under the writers' turn).
_COUNT_ONE = (
    "INSERT INTO payment_usage (account_id, month, payment_count) VALUES (:usage_account, :usage_month, 1) "
    "ON CONFLICT (account_id, month) DO UPDATE SET payment_count = payment_usage.payment_count + 1"
)


# The count is returned when the row was inserted or updated, nothing when the limit stopped it.
_COUNT_ONE_UNLIMITED = text(_COUNT_ONE + " RETURNING payment_count")


_COUNT_ONE_LIMITED = text(_COUNT_ONE + " WHERE payment_usage.payment_count < :usage_limit RETURNING payment_count")


# The month's row, created at 0 if need be, locked until commit (its count unchanged, and told).
_HOLD_MONTH = text(
    "INSERT INTO payment_usage (account_id, month, payment_count) VALUES (:usage_account, :usage_month, 0) "
    "ON CONFLICT (account_id, month) DO UPDATE SET payment_count = payment_usage.payment_count "
    "RETURNING payment_count"
)


def hold_month(account_id: int, now: datetime | None = None) -> int:
    """Takes the account's counter row of this month first (created if need be), until commit: its count.

    For a batch of payments, whose items hold their keys' claims uncommitted: taking the counter
    before any claim keeps the lock order of every writer of the account (the counter first), so
    two batches of one account run one after the other instead of each holding what the other
    needs next. Held, the count changes only through this transaction: a batch may count its
    payments in Python and write the sum once (:func:`count_payments`).
    """
    return db.session.connection().execute(
        _HOLD_MONTH, {"usage_account": account_id, "usage_month": quota_month(now)}).scalar_one()


_COUNT_MANY = text("UPDATE payment_usage SET payment_count = payment_count + :usage_added "
                   "WHERE account_id = :usage_account AND month = :usage_month")


def count_payments(account_id: int, month: str, added: int) -> None:
    """Counts ``added`` payments in the month's row, held (:func:`hold_month`) and checked against the plan."""
    if added:
        db.session.connection().execute(_COUNT_MANY, {"usage_account": account_id, "usage_month": month,
                                                      "usage_added": added})


def hold_months(account_id: int, months: set[str]) -> None:
    """Locks the account's counter rows of ``months`` until commit, before its payments are moved.

    Every writer of an account takes its rows in one order: the month's
    counter, then the payments, then the account's row (the events). A bank
    report that rejects payments gives their slots back only once they have
    moved, so it takes the counters first, here.
    """
    if months:
        db.session.execute(
            update(PaymentUsage)
            .where(PaymentUsage.account_id == account_id, PaymentUsage.month.in_(sorted(months)))
            .values(payment_count=PaymentUsage.payment_count)
            .execution_options(synchronize_session=False)
        )


def give_back(account_id: int, created: list[datetime]) -> None:
    """Frees the slots of payments that no longer count (rejected by the bank), in the months they
    were counted in (Paris month of their creation); never below zero."""
    per_month: dict[str, int] = {}
    for moment in created:
        month = quota_month(moment)
        per_month[month] = per_month.get(month, 0) + 1
    for month, count in sorted(per_month.items()):
        db.session.execute(
            update(PaymentUsage)
            .where(PaymentUsage.account_id == account_id, PaymentUsage.month == month)
            .values(payment_count=case((PaymentUsage.payment_count > count, PaymentUsage.payment_count - count),
                                       else_=0))
            .execution_options(synchronize_session=False)
        )


def take_back(account_id: int, created: list[datetime]) -> None:
    """Counts again payments a person decided were debited after all (an anomaly resolved): money
    that left counts in its month whatever the plan's limit."""
    for moment in created:
        db.session.connection().execute(_COUNT_ONE_UNLIMITED, {"usage_account": account_id,
                                                              "usage_month": quota_month(moment)})
