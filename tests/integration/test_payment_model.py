"""The exchange between MEG and Libeo, model-checked.

A Hypothesis state machine drives both products, Libeo served on a socket
behind the fault proxy (MEG calls it over HTTP), with random sequences of:
« Payer » and « Payer la sélection » (their answers heard or lost), double clicks, sync passes, Libeo down
and back, the key regenerated in Libeo and pasted again in MEG, « Annuler »
and « Approuver » / « Refuser » in Libeo, the SEPA execution, and pain.002
reports of any status for any transfer, in any order (duplicates and
contradictions included), a new month for the plan's quota, e-invoice
documents attached to invoices (the « document » messages MEG sends Libeo),
and « Supprimer la connexion » with payments in flight, then reconnecting
with a new key of the same account, or with the key of another Libeo
account (the company's SIRET moved to it) while requests are unheard, and an
« Achats » administrator confirming that the former account did not pay one
(only when it did not). After every step it checks what people rely on:

- never two live payments of one invoice in Libeo, whatever the account;
- no request is ever sent to two Libeo accounts (an Idempotency-Key is
  known to one account only);
- MEG never shows « Refusé » (nor says « Rien n'a été payé ») while Libeo
  holds a live payment of that invoice;
- after a sync pass over a working connection (removed or not), MEG shows
  each payment of the connected account in Libeo's state, nothing stays
  « Vérification en cours », the
  month's count of payments is Libeo's, every invoice document reached Libeo,
  and a removed connection follows exactly what is in flight (nothing once
  all has ended: « Non envoyé » for a request Libeo never received);
- a final bank state (debited, rejected) is never overwritten, on either side;
- the month's quota counts exactly the month's live payments;
- nothing waits unseen: every request still unknown, or « Vérification
  impossible », is on MEG's « Options », every bank report Libeo could not
  apply on its « Remises ».

``make test`` runs a short profile (well under a minute);
``PAYMENT_MODEL_PROFILE=long`` runs many more and longer sequences.
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import select, update
from werkzeug.serving import make_server

from core.calendar import previous_business_day
from core.dates import paris_today
from devtools.bank_simulator import status_report_for

from .conftest import BOULANGERIE_SIRET, libeo_account
from .fault_proxy import FaultProxy

PROFILES = {
    "quick": settings(max_examples=4, stateful_step_count=12, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck)),
    "long": settings(max_examples=150, stateful_step_count=40, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck)),
}
PROFILE = PROFILES[os.environ.get("PAYMENT_MODEL_PROFILE", "quick")]
PAYMENTS = r"POST /api/v1/invoices/[^ ]+/payments"
BATCHES = r"POST /api/v1/payment-batches"
LIVE = {"awaiting_approval", "scheduled", "file_ready", "transmitted", "accepted", "paid"}
FINAL = {"paid", "failed"}
# What a pain.002.001.03 may say of a transfer (its XSD has no ACCC: that one comes in later versions).
BANK_STATUSES = [("ACSC", None), ("ACTC", None), ("ACWC", None), ("ACSP", None), ("ACCP", None), ("PDNG", None),
                 ("RJCT", "AC04"), ("RJCT", "AM04")]
DEBTOR_IBAN = "FR7630004000031234567890143"
PAYER = "admin@boulangerie-martin.fr"


class World:
    """Both products, built once per test: Libeo on a socket behind a fault proxy, MEG calling it."""

    def __init__(self, tmp_path) -> None:
        from tests.conftest import build_apps

        self.tmp_path = tmp_path
        self.apps = build_apps(tmp_path, meg={"SYNC_QUIET_SECONDS": 0, "HTTP_TIMEOUT": 2.0},
                               libeo={"IDEMPOTENCY_LEASE_SECONDS": 1})
        self.server = make_server("127.0.0.1", 0, self.apps.libeo, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.proxy = FaultProxy(self.server.server_port)
        self.apps.meg.config["LIBEO_URL"] = f"http://127.0.0.1:{self.proxy.port}"
        self.apps.meg.extensions["http_peers"] = {}

    def reset(self) -> None:
        """Empty databases, MEG's demo, the company's Libeo account (verified, debit IBAN, an approval
        threshold) connected in « Options »."""
        from models.libeo import db as libeo_db
        from models.libeo.accounts.debtor_iban import apply_debtor_iban
        from models.libeo.accounts.models import Account
        from models.meg import Company, User
        from models.meg import db as meg_db
        from models.meg.demo import create_demo_data
        from models.meg.libeo_link.connection import connect_company

        self.proxy.heal()
        for app, db in ((self.apps.meg, meg_db), (self.apps.libeo, libeo_db)):
            with app.app_context():
                db.session.remove()
                db.drop_all()
                db.create_all()
        self.account_id, key = libeo_account(self.apps.libeo)
        with self.apps.libeo.app_context():
            account = libeo_db.session.get(Account, self.account_id)
            apply_debtor_iban(account, DEBTOR_IBAN, None, "tests")
            account.approval_threshold_cents = 100_000
            libeo_db.session.commit()
        with self.apps.meg.app_context():
            create_demo_data()
            company = meg_db.session.scalar(select(Company).where(Company.siret == BOULANGERIE_SIRET))
            user = meg_db.session.scalar(select(User).where(User.email == PAYER))
            connect_company(company, key, user)
            meg_db.session.commit()
            self.company_id, self.user_id = company.id, user.id

    def close(self) -> None:
        self.proxy.close()
        self.server.shutdown()


@pytest.fixture
def world(tmp_path):
    built = World(tmp_path)
    yield built
    built.close()


class PaymentExchange(RuleBasedStateMachine):
    world: World

    def __init__(self) -> None:
        super().__init__()
        self.world.reset()
        self.down = False
        self.key_valid = True
        self.new_key: str | None = None
        self.removed = False
        # The Libeo account connected now, and every account the company used.
        self.account_id = self.world.account_id
        self.accounts = [self.world.account_id]
        self.final_in_libeo: dict[int, str] = {}
        self.final_in_meg: dict[int, str] = {}
        with self.meg():
            from models.meg import PaymentMode, SupplierInvoice
            from models.meg import db as meg_db

            self.invoices = list(meg_db.session.scalars(
                select(SupplierInvoice.id).where(SupplierInvoice.company_id == self.world.company_id,
                                                 SupplierInvoice.payment_mode == PaymentMode.LIBEO,
                                                 SupplierInvoice.paid_at.is_(None))
                .order_by(SupplierInvoice.id)))

    # --- the two products ------------------------------------------------------------------------

    def meg(self):
        return self.world.apps.meg.app_context()

    def libeo(self):
        return self.world.apps.libeo.app_context()

    def libeo_payments(self, account_id: int | None = None) -> list:
        """Every payment Libeo holds, or those of ``account_id``."""
        from models.libeo import db as libeo_db
        from models.libeo.invoices.models import Invoice
        from models.libeo.payments.models import Payment

        query = select(Payment, Invoice.external_id).join(Invoice, Payment.invoice_id == Invoice.id)
        if account_id is not None:
            query = query.where(Payment.account_id == account_id)
        with self.libeo():
            return [(p.id, p.status.value, external, p.created_at)
                    for p, external in libeo_db.session.execute(query.order_by(Payment.id))]

    def meg_attempts(self) -> list:
        from models.meg import db as meg_db
        from models.meg.libeo_link.attempts import PaymentAttempt

        with self.meg():
            return [(a.id, a.invoice_id, a.attempt, a.status.value, a.libeo_payment_id)
                    for a in meg_db.session.scalars(select(PaymentAttempt).order_by(PaymentAttempt.id))]

    def live_in_libeo(self, invoice_id: int) -> bool:
        return any(status in LIVE and external == f"meg-{invoice_id}"
                   for _, status, external, _ in self.libeo_payments())

    @property
    def healthy(self) -> bool:
        return not self.down and self.key_valid

    # --- what people and workers do -----------------------------------------------------------------

    def _pay(self, invoice_id: int) -> None:
        from models.meg import SupplierInvoice, User
        from models.meg import db as meg_db
        from models.meg.libeo_link.connection import LibeoLinkError
        from models.meg.libeo_link.paying import pay_invoice

        with self.meg():
            invoice = meg_db.session.get(SupplierInvoice, invoice_id)
            user = meg_db.session.get(User, self.world.user_id)
            try:
                pay_invoice(invoice, user)
            except LibeoLinkError as refused:
                meg_db.session.rollback()
                if "Rien n'a été payé" in refused.message:
                    assert not self.live_in_libeo(invoice_id), refused.message

    @rule(index=st.integers(0, 3), lost=st.booleans())
    def pay(self, index: int, lost: bool) -> None:
        invoice_id = self.invoices[index % len(self.invoices)]
        if lost and not self.down:
            self.world.proxy.drop_answers(PAYMENTS)
        self._pay(invoice_id)
        if not self.down:
            self.world.proxy.heal()

    @rule(indexes=st.lists(st.integers(0, 3), min_size=1, max_size=4, unique=True), lost=st.booleans())
    def pay_selection(self, indexes: list[int], lost: bool) -> None:
        """« Payer la sélection »: one request for several invoices (each its own key), its answer heard or lost."""
        from models.meg import Company, User
        from models.meg import db as meg_db
        from models.meg.libeo_link.connection import LibeoLinkError
        from models.meg.libeo_link.selection import pay_selection

        if lost and not self.down:
            self.world.proxy.drop_answers(BATCHES)
        with self.meg():
            company = meg_db.session.get(Company, self.world.company_id)
            user = meg_db.session.get(User, self.world.user_id)
            try:
                pay_selection(company, user, [self.invoices[i % len(self.invoices)] for i in indexes], {})
            except LibeoLinkError:
                meg_db.session.rollback()
        if not self.down:
            self.world.proxy.heal()

    @rule(index=st.integers(0, 3))
    def double_click(self, index: int) -> None:
        invoice_id = self.invoices[index % len(self.invoices)]
        self._pay(invoice_id)
        self._pay(invoice_id)

    @rule()
    def sync_pass(self) -> None:
        from models.meg.libeo_link.sync import sync_pass

        with self.meg():
            sync_pass()
        if self.healthy:
            self.check_same_story()

    @precondition(lambda self: not self.down)
    @rule()
    def libeo_down(self) -> None:
        self.down = True
        self.world.proxy.down()

    @precondition(lambda self: self.down)
    @rule()
    def libeo_back(self) -> None:
        self.down = False
        self.world.proxy.heal()

    @rule()
    def regenerate_key(self) -> None:
        from models.libeo import db as libeo_db
        from models.libeo.accounts.keys import issue_meg_api_key
        from models.libeo.accounts.models import Account

        with self.libeo():
            self.new_key = issue_meg_api_key(libeo_db.session.get(Account, self.account_id))
            libeo_db.session.commit()
        self.key_valid = False

    @precondition(lambda self: self.new_key is not None and not self.down)
    @rule()
    def paste_new_key(self) -> None:
        from models.meg import Company, User
        from models.meg import db as meg_db
        from models.meg.libeo_link.reconnecting import connect_libeo

        with self.meg():
            connect_libeo(meg_db.session.get(Company, self.world.company_id), self.new_key,
                          meg_db.session.get(User, self.world.user_id))
            meg_db.session.commit()
        self.new_key, self.key_valid, self.removed = None, True, False

    @precondition(lambda self: not self.removed)
    @rule()
    def remove_connection(self) -> None:
        """« Supprimer la connexion », whatever is in flight (as the page's « Oui » does)."""
        from models.meg import Company, User
        from models.meg import db as meg_db
        from models.meg.libeo_link.disconnecting import disconnect_company

        with self.meg():
            disconnect_company(meg_db.session.get(Company, self.world.company_id),
                               meg_db.session.get(User, self.world.user_id))
            meg_db.session.commit()
        self.removed = True

    @precondition(lambda self: self.removed and not self.down)
    @rule()
    def reconnect(self) -> None:
        """A new key of the same Libeo account pasted in « Options »: the feed resumes where it stopped."""
        from models.libeo import db as libeo_db
        from models.libeo.accounts.keys import issue_meg_api_key
        from models.libeo.accounts.models import Account

        with self.libeo():
            self.new_key = issue_meg_api_key(libeo_db.session.get(Account, self.account_id))
            libeo_db.session.commit()
        self.paste_new_key()

    def meg_follows_only_unheard_requests(self) -> bool:
        """MEG knows no payment of the connected account still moving (only unheard requests, or ended ones):
        switching accounts then leaves nothing MEG followed behind (following those is not this model's)."""
        open_states = {"awaiting_approval", "scheduled", "file_ready", "transmitted", "accepted", "unknown"}
        return not any(status in open_states for _, _, _, status, _ in self.meg_attempts())

    @precondition(lambda self: not self.down and len(self.accounts) < 3 and self.meg_follows_only_unheard_requests())
    @rule(revoke_former=st.booleans())
    def connect_another_account(self, revoke_former: bool) -> None:
        """The company's SIRET moves to another Libeo account (as Libeo's support does; the former account's key
        revoked, or not), whose key is pasted in « Options »: the requests the former one may have received
        are never sent to it."""
        from core.dates import utcnow
        from models.libeo import db as libeo_db
        from models.libeo.accounts.debtor_iban import apply_debtor_iban
        from models.libeo.accounts.models import Account, ApiKey

        with self.libeo():
            former = libeo_db.session.get(Account, self.account_id)
            former.lost_siret, former.siret = former.siret, None
            if revoke_former:
                libeo_db.session.execute(update(ApiKey).where(ApiKey.account_id == former.id,
                                                              ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow()))
            libeo_db.session.commit()
        number = len(self.accounts) + 1
        account_id, self.new_key = libeo_account(self.world.apps.libeo, name=f"Boulangerie Martin SARL ({number})",
                                                 email=f"compte{number}@boulangerie-martin.fr")
        with self.libeo():
            account = libeo_db.session.get(Account, account_id)
            apply_debtor_iban(account, DEBTOR_IBAN, None, "tests")
            account.approval_threshold_cents = 100_000
            libeo_db.session.commit()
        self.accounts.append(account_id)
        self.account_id = account_id
        self.paste_new_key()

    @rule(index=st.integers(0, 9))
    def confirm_not_paid(self, index: int) -> None:
        """An « Achats » administrator checks in the former account a request « Vérification impossible »: when it
        was not paid there (no live payment of the invoice), they say so, and « Payer » is offered again."""
        from models.meg import SupplierInvoice, User
        from models.meg import db as meg_db
        from models.meg.libeo_link.reconnecting import confirm_not_paid

        held = [invoice_id for _, invoice_id, _, status, _ in self.meg_attempts() if status == "unverifiable"]
        if not held:
            return
        invoice_id = held[index % len(held)]
        if self.live_in_libeo(invoice_id):
            return  # paid by the former account: the administrator does not confirm
        with self.meg():
            confirm_not_paid(meg_db.session.get(SupplierInvoice, invoice_id),
                             meg_db.session.get(User, self.world.user_id), True)
            meg_db.session.commit()

    @rule()
    def new_month(self) -> None:
        """The calendar moves to the next month: the plan's payments of the new month are all free again."""
        from models.libeo import db as libeo_db
        from models.libeo.payments.models import Payment, PaymentUsage

        def month_before(month: str) -> str:
            year, number = (int(part) for part in month.split("-"))
            return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"

        with self.libeo():
            # Rather than moving the clock: every payment and counter so far goes one month back.
            for payment in libeo_db.session.scalars(select(Payment)):
                payment.created_at = payment.created_at - timedelta(days=31)
            for usage in libeo_db.session.scalars(select(PaymentUsage).order_by(PaymentUsage.month)):
                usage.month = month_before(usage.month)
                libeo_db.session.flush()
            libeo_db.session.commit()

    @rule(index=st.integers(0, 3), content=st.binary(min_size=1, max_size=64))
    def einvoice_document(self, index: int, content: bytes) -> None:
        """A document (the e-invoice's PDF) attached to an invoice: MEG sends it to Libeo once Libeo has it."""
        from models.meg import SupplierInvoice
        from models.meg import db as meg_db
        from models.meg.einvoices.documents import PDF, DocumentFile, attach_document
        from models.meg.libeo_link.outbox import document_changed

        invoice_id = self.invoices[index % len(self.invoices)]
        with self.meg():
            invoice = meg_db.session.get(SupplierInvoice, invoice_id)
            document = attach_document(invoice, DocumentFile(f"facture-{invoice_id}.pdf", PDF,
                                                             b"%PDF-1.4\n" + content + b"\n%%EOF\n"))
            document_changed(invoice, document)
            meg_db.session.commit()

    def _libeo_payment(self, index: int, statuses: set[str]):
        candidates = [p for p in self.libeo_payments() if p[1] in statuses]
        return candidates[index % len(candidates)][0] if candidates else None

    @rule(index=st.integers(0, 9))
    def cancel_in_libeo(self, index: int) -> None:
        from models.libeo import db as libeo_db
        from models.libeo.accounts.models import Account
        from models.libeo.payments.models import Payment
        from models.libeo.payments.order import cancel_payment

        payment_id = self._libeo_payment(index, {"scheduled", "awaiting_approval"})
        if payment_id is None:
            return
        with self.libeo():
            payment = libeo_db.session.get(Payment, payment_id)
            cancel_payment(libeo_db.session.get(Account, payment.account_id), payment, "claire@boulangerie-martin.fr")
            libeo_db.session.commit()

    @rule(index=st.integers(0, 9), approve=st.booleans())
    def decide_hold(self, index: int, approve: bool) -> None:
        from models.libeo import db as libeo_db
        from models.libeo.accounts.models import Account, LibeoUser
        from models.libeo.payments.approvals import approve_payment, refuse_payment
        from models.libeo.payments.models import Payment

        payment_id = self._libeo_payment(index, {"awaiting_approval"})
        if payment_id is None:
            return
        with self.libeo():
            payment = libeo_db.session.get(Payment, payment_id)
            account = libeo_db.session.get(Account, payment.account_id)
            user = libeo_db.session.scalar(select(LibeoUser).where(LibeoUser.account_id == account.id))
            if approve:
                approve_payment(account, payment, user)
            else:
                refuse_payment(account, payment, user, "Facture contestée")
            libeo_db.session.commit()

    @rule()
    def execute_payments(self) -> None:
        from models.libeo import db as libeo_db
        from models.libeo.payments.models import Payment, PaymentStatus
        from models.libeo.payments.sepa import execute_due_payments

        day = previous_business_day(paris_today())
        with self.libeo():
            libeo_db.session.execute(update(Payment).where(Payment.status == PaymentStatus.SCHEDULED,
                                                           Payment.execution_date > day).values(execution_date=day))
            libeo_db.session.commit()
            execute_due_payments(None, day)

    @rule(batch=st.integers(0, 5), statuses=st.lists(st.sampled_from(BANK_STATUSES), min_size=1, max_size=4))
    def bank_report(self, batch: int, statuses: list) -> None:
        from models.libeo import db as libeo_db
        from models.libeo.errors import LibeoError
        from models.libeo.payments.bank_status_import import import_bank_status
        from models.libeo.payments.models import SepaBatch

        with self.libeo():
            files = list(libeo_db.session.scalars(
                select(SepaBatch).where(SepaBatch.xml.is_not(None)).order_by(SepaBatch.id)))
            if not files:
                return
            chosen = files[batch % len(files)]
            transfers = [p.id for p in chosen.payments]
            report = {f"LIBEO-{payment_id}": statuses[n % len(statuses)] for n, payment_id in enumerate(transfers)}
            try:
                import_bank_status(status_report_for(chosen.xml, report), imported_by="test")
                libeo_db.session.commit()
            except LibeoError:
                libeo_db.session.rollback()

    # --- what must always hold ------------------------------------------------------------------------

    @invariant()
    def never_two_live_payments_of_one_invoice(self) -> None:
        live = [external for _, status, external, _ in self.libeo_payments() if status in LIVE]
        assert len(live) == len(set(live)), live

    @invariant()
    def no_request_is_sent_to_two_accounts(self) -> None:
        from models.libeo import db as libeo_db
        from models.libeo.payments.models import IdempotencyRecord

        seen: dict[str, set[int]] = {}
        with self.libeo():
            for key, account_id in libeo_db.session.execute(
                    select(IdempotencyRecord.key, IdempotencyRecord.account_id)):
                seen.setdefault(key, set()).add(account_id)
        assert all(len(accounts) == 1 for accounts in seen.values()), seen

    @invariant()
    def never_refused_while_libeo_pays(self) -> None:
        latest: dict[int, str] = {}
        for _, invoice_id, _, status, _ in self.meg_attempts():
            latest[invoice_id] = status
        for invoice_id, status in latest.items():
            if status == "refused":
                assert not self.live_in_libeo(invoice_id), (invoice_id, self.libeo_payments(), self.meg_attempts())

    @invariant()
    def final_bank_states_stay(self) -> None:
        for payment_id, status, _, _ in self.libeo_payments():
            if payment_id in self.final_in_libeo:
                assert status == self.final_in_libeo[payment_id], (payment_id, status)
            elif status in FINAL:
                self.final_in_libeo[payment_id] = status
        for attempt_id, _, _, status, _ in self.meg_attempts():
            if attempt_id in self.final_in_meg:
                assert status == self.final_in_meg[attempt_id], (attempt_id, status)
            elif status.lower() in FINAL:
                self.final_in_meg[attempt_id] = status

    @invariant()
    def the_quota_counts_the_live_payments_of_the_month(self) -> None:
        from models.libeo import db as libeo_db
        from models.libeo.payments.models import PaymentUsage
        from models.libeo.payments.quota import quota_month

        month = quota_month()
        for account_id in self.accounts:
            live = sum(1 for _, status, _, created in self.libeo_payments(account_id)
                       if status not in ("cancelled", "failed") and quota_month(created) == month)
            with self.libeo():
                counted = libeo_db.session.scalar(select(PaymentUsage.payment_count).where(
                    PaymentUsage.account_id == account_id, PaymentUsage.month == month)) or 0
            assert counted == live, (account_id, counted, self.libeo_payments(account_id))

    @invariant()
    def nothing_waits_unseen(self) -> None:
        from models.libeo import db as libeo_db
        from models.libeo.payments.models import BankAnomaly
        from models.meg.libeo_link.attempts import unknown_outcomes, unverifiable_requests

        unknown = {a[0] for a in self.meg_attempts() if a[3] == "requested"}
        unverifiable = {a[0] for a in self.meg_attempts() if a[3] == "unverifiable"}
        with self.meg():
            assert {a.id for a in unknown_outcomes(self.world.company_id)} == unknown
            assert {a.id for a in unverifiable_requests(self.world.company_id)} == unverifiable
        with self.libeo():
            open_anomalies = libeo_db.session.scalars(select(BankAnomaly).where(BankAnomaly.resolved_at.is_(None)))
            assert all(anomaly.account_id in self.accounts for anomaly in open_anomalies)

    def check_same_story(self) -> None:
        """After a sync pass over a working connection: MEG shows every payment of its account as Libeo holds it."""
        recorded = {a[4]: a[3].lower() for a in self.meg_attempts() if a[4]}
        for payment_id, status, external, _ in self.libeo_payments(self.account_id):
            if external and external.startswith("meg-"):
                assert recorded.get(str(payment_id)) == status, (payment_id, status, self.meg_attempts())
        assert not [a for a in self.meg_attempts() if a[3] == "requested"], self.meg_attempts()
        self.check_following()
        if not self.removed:
            self.check_quota_told()
            self.check_documents_delivered()

    def check_following(self) -> None:
        """A removed connection follows exactly the payments in flight: « suivi des N » with N MEG's live ones,
        and its key forgotten (Libeo revoked it) once none is left."""
        from models.meg import db as meg_db
        from models.meg.libeo_link.attempts import following_label, in_flight_count
        from models.meg.libeo_link.connection import ConnectionState, LibeoConnection

        live = sum(1 for _, status, external, _ in self.libeo_payments(self.account_id)
                   if status in LIVE - FINAL and external)
        with self.meg():
            connection = meg_db.session.scalar(select(LibeoConnection))
            count = in_flight_count(self.world.company_id)
            assert count == live, (count, self.libeo_payments(), self.meg_attempts())
            if self.removed:
                label = following_label(connection, count)
                if count:
                    assert label == f"Connexion supprimée — suivi des {count} paiement(s) en cours", label
                else:
                    assert connection.state is ConnectionState.REMOVED and not connection.key_ciphertext, label

    def check_quota_told(self) -> None:
        """MEG's « paiements ce mois-ci » is Libeo's count of the month."""
        from models.libeo import db as libeo_db
        from models.libeo.payments.models import PaymentUsage
        from models.libeo.payments.quota import quota_month
        from models.meg import db as meg_db
        from models.meg.libeo_link.connection import LibeoConnection

        with self.libeo():
            counted = libeo_db.session.scalar(select(PaymentUsage.payment_count).where(
                PaymentUsage.account_id == self.account_id, PaymentUsage.month == quota_month())) or 0
        with self.meg():
            quota = meg_db.session.scalar(select(LibeoConnection)).quota
            assert quota is not None and quota.used == counted, (quota, counted)

    def check_documents_delivered(self) -> None:
        """Every invoice Libeo has carries, in Libeo, the document MEG holds for it, or that document waits in
        MEG's outbox (retried by the next passes, shown on « Options »): none is lost."""
        from models.libeo import db as libeo_db
        from models.libeo.invoices.documents import invoice_document
        from models.libeo.invoices.models import Invoice
        from models.meg import db as meg_db
        from models.meg.einvoices.documents import InvoiceDocument
        from models.meg.libeo_link.outbox import DOCUMENT, OutboxMessage

        with self.meg():
            held = {f"meg-{d.invoice_id}": d.sha256 for d in meg_db.session.scalars(select(InvoiceDocument))}
            waiting = {f"meg-{m.invoice_id}" for m in meg_db.session.scalars(select(OutboxMessage).where(
                OutboxMessage.kind == DOCUMENT, OutboxMessage.delivered_at.is_(None),
                OutboxMessage.ignored_at.is_(None)))}
        with self.libeo():
            for invoice in libeo_db.session.scalars(select(Invoice).where(Invoice.external_id.in_(held),
                                                                          Invoice.account_id == self.account_id)):
                has_payment = any(external == invoice.external_id
                                  for _, _, external, _ in self.libeo_payments(self.account_id))
                document = invoice_document(invoice)
                if has_payment and invoice.external_id not in waiting:
                    assert document is not None and document.sha256 == held[invoice.external_id], (
                        invoice.external_id, document and document.sha256, held)


def test_the_exchange_keeps_its_invariants(world):
    PaymentExchange.world = world
    PaymentExchange.TestCase.settings = PROFILE
    PaymentExchange.TestCase().runTest()
