"""Libeo's e-mail notifications, read from a real SMTP server (aiosmtpd) as their recipients read them.

Each kind and its recipients, the daily digest, preferences and the
one-click unsubscribe (by the e-mail's link and by the POST of RFC 8058),
bounces, the retry after the SMTP server was down, and no e-mail twice
under replays and concurrent workers.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, time, timedelta

from sqlalchemy import event, select

from core.calendar import earliest_execution_date
from core.dates import PARIS, paris_today, utcnow
from devtools.bank_simulator import statement_for, status_report_for
from models.libeo import Account, BankAnomaly, LibeoUser, Plan, SepaBatch, db
from models.libeo.notifications.models import outbox
from models.libeo.payments.bank_leg import resolve_anomaly
from models.libeo.payments.bank_status_import import import_bank_status
from models.libeo.payments.sepa import execute_due_payments
from tests.helpers import text
from tests.mail import Mailbox, outbox_rows

from .conftest import DEBTOR_IBAN, Api, invoice_body, make_account, make_key, pay_body, valid_iban


def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    return {"DAY": earliest_execution_date(paris_today())}


(DAY,) = dated_constants().values()
FIRST_IBAN, NEW_IBAN = valid_iban(4_100_001), valid_iban(4_100_002)
ACCOUNTANT = "expert@cabinet-durand.fr"


class Company:
    """A verified Partnerships account with its expert-comptable, its API, and its administrator's address."""

    def __init__(self, apps, client, *, plan: Plan = Plan.PARTNERSHIPS) -> None:
        self.apps = apps
        self.info = make_account(apps.libeo, name="Boulangerie Martin SARL", plan=plan, debtor_iban=DEBTOR_IBAN,
                                 accountant=ACCOUNTANT)
        self.admin = self.info.email
        self.api = Api(client, make_key(apps.libeo, self.info.id))
        self.numbers = iter(range(1, 1000))

    def pay(self, *, email: str = "compta@entreprise.fr", role: str = "user", name: str = "Minoterie Dupont",
            iban: str = FIRST_IBAN, amount: int = 41_000, key: str | None = None, number: int | None = None):
        number = number or next(self.numbers)
        body = pay_body(email=email, role=role, execution_date=DAY.isoformat(),
                        invoice=invoice_body(number, supplier={"name": name, "iban": iban}, amount_cents=amount))
        response = self.api.pay(f"meg-{number}", key=key or f"idem-{number}", body=body)
        assert response.status_code == 201, response.json
        return response.json

    def pay_in_libeo(self, *, name: str, iban: str, amount: int) -> int:
        """Its administrator pays an invoice entered in Libeo, on the invoice's page: the payment's id."""
        from models.libeo.invoices.services import create_libeo_invoice, invoice_data
        from models.libeo.payments.models import Channel, InitiatorRole
        from models.libeo.payments.order import Initiator, pay_invoice

        number = next(self.numbers)
        with self.apps.libeo.app_context():
            account = db.session.get(Account, self.info.id)
            invoice = create_libeo_invoice(account, invoice_data(
                number=f"F-2026-{number:03d}", supplier_name=name, supplier_iban=iban, supplier_bic=None,
                issue_date=DAY - timedelta(days=30), due_date=DAY, amount_cents=amount))
            payment = pay_invoice(account, invoice, Initiator(self.admin, InitiatorRole.USER, Channel.LIBEO), DAY)
            db.session.commit()
            return payment.id

    def held(self):
        """A supplier paid on one IBAN, then on a new one: the second payment is held."""
        self.pay(amount=25_000)
        payment = self.pay(iban=NEW_IBAN)
        assert payment["status"] == "awaiting_approval"
        return payment

    def execute(self) -> SepaBatch:
        with self.apps.libeo.app_context():
            execute_due_payments(None, DAY)
            batch = db.session.scalars(select(SepaBatch).order_by(SepaBatch.id.desc())).first()
            db.session.expunge(batch)
            return batch

    def bank_answers(self, batch_id: int, statuses: dict) -> None:
        with self.apps.libeo.app_context():
            xml = db.session.get(SepaBatch, batch_id).xml
            import_bank_status(status_report_for(xml, statuses), imported_by="tests")
            db.session.commit()


def company(apps, client, mail: Mailbox, **options) -> Company:
    """The company, with the e-mail its API key made already read."""
    made = Company(apps, client, **options)
    mail.send("libeo")
    mail.clear()
    return made


# --- what is sent, to whom ------------------------------------------------------------------------


def test_a_held_payment_is_told_to_the_administrators_with_a_masked_iban_and_a_link(apps, client, mail):
    boulangerie = company(apps, client, mail)
    payment = boulangerie.held()

    mail.send("libeo")
    message = mail.one(boulangerie.admin)
    assert message.subject == "1 paiement à approuver : Minoterie Dupont, 410,00 €, nouvel IBAN"
    assert message.sender == "Libeo <notifications@libeo.localhost>"
    link = f"http://127.0.0.1:5000/libeo/paiements/{payment['id']}"
    for body in (message.text, message.html_text):
        assert "Minoterie Dupont" in body and "410,00 €" in body and "F-2026-002" in body
        assert "Nouvel IBAN pour Minoterie Dupont" in body  # Libeo's own sentence, with both IBANs masked
        assert link in body
    # No IBAN in full, anywhere in the message (headers, text, HTML).
    raw = message.raw()
    assert NEW_IBAN not in raw and FIRST_IBAN not in raw and NEW_IBAN[-5:] in message.text.replace(" ", "")
    assert "FR76 •••• •••• •••• •••• ••" in message.text
    # The product's typography: no-break spaces before « : » in the HTML, a narrow one in the amount.
    assert "410,00\u00a0€" in message.html or "410,00\u202f€" in message.html
    assert "approuvé\u00a0:" not in message.html and "\u00a0:" in message.html
    assert message.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert message.unsubscribe_url.startswith("http://127.0.0.1:5000/libeo/notifications/desabonnement/")
    assert "compta@entreprise.fr" not in [m.to for m in mail.received]  # an API's address is never written to


def test_a_rejection_is_told_to_the_administrators_and_to_who_asked_through_meg_by_meg_only(apps, client, mail):
    """The expert-comptable asked from MEG: MEG tells them (« Paiement rejeté par la banque »), Libeo does not
    write to them a second time (its link would open a Libeo they have no login to)."""
    boulangerie = company(apps, client, mail)
    by_accountant = boulangerie.pay(email=ACCOUNTANT, role="accountant", name="Laiterie des Prés", amount=12_345)
    by_stranger = boulangerie.pay(email="inconnu@ailleurs.fr", name="Moulin Girard", iban=valid_iban(4_100_003),
                                  amount=9_900)
    batch = boulangerie.execute()
    mail.send("libeo")
    mail.clear()  # the file-ready notice (its own test below)

    boulangerie.bank_answers(batch.id, {f"LIBEO-{by_accountant['id']}": ("RJCT", "AC04"),
                                        f"LIBEO-{by_stranger['id']}": ("RJCT", "AM04")})
    mail.send("libeo")

    told = sorted((m.to, m.subject) for m in mail.received)
    assert told == sorted([
        (boulangerie.admin, "Paiement rejeté : Laiterie des Prés, 123,45 € (facture F-2026-001)"),
        (boulangerie.admin, "Paiement rejeté : Moulin Girard, 99,00 € (facture F-2026-002)"),
    ])
    message = [m for m in mail.to(boulangerie.admin) if "Laiterie" in m.subject][0]
    assert "Rejeté : compte du bénéficiaire clôturé (AC04)" in message.text
    assert f"/libeo/paiements/{by_accountant['id']}" in message.text


def test_a_debited_payment_is_told_to_who_asked_in_libeo_and_left_to_meg_for_who_asked_through_it(apps, client,
                                                                                                   mail):
    """Asked in Libeo: Libeo tells its user. Asked through MEG (the expert-comptable, or the administrator
    himself): MEG tells them (« Paiement débité »), Libeo does not write a second time."""
    boulangerie = company(apps, client, mail)
    mine = boulangerie.pay_in_libeo(name="Laiterie des Prés", iban=FIRST_IBAN, amount=5_000)
    boulangerie.pay(email=ACCOUNTANT, role="accountant", name="Moulin Girard", iban=valid_iban(4_100_003),
                    amount=7_000)
    boulangerie.pay(email=boulangerie.admin, name="Fromagerie Blanc", iban=valid_iban(4_100_004), amount=9_000)
    batch = boulangerie.execute()
    mail.send("libeo")
    mail.clear()
    boulangerie.bank_answers(batch.id, {})  # every transfer debited
    mail.send("libeo")

    assert [(m.to, m.subject) for m in mail.received] == [
        (boulangerie.admin, "Paiement débité : Laiterie des Prés, 50,00 € (facture F-2026-001)"),
    ]
    assert f"/libeo/paiements/{mine}" in mail.one(boulangerie.admin).text


def test_a_sepa_file_ready_is_told_once_to_the_administrators(apps, client, mail):
    boulangerie = company(apps, client, mail)
    boulangerie.pay(name="Laiterie des Prés", amount=5_000)
    boulangerie.pay(name="Moulin Girard", iban=valid_iban(4_100_003), amount=7_000)
    batch = boulangerie.execute()
    mail.send("libeo")

    message = mail.one(boulangerie.admin)
    assert message.subject == "Remise SEPA prête à transmettre à la banque : 2 virements, 120,00 €"
    assert batch.reference in message.text
    assert f"http://127.0.0.1:5000/libeo/remises/{batch.id}" in message.text


def test_a_bank_anomaly_is_told_to_the_administrators_once_per_file_and_not_once_decided(apps, client, mail):
    """A statement imported from cron that says a rejected transfer was debited: nobody saw « Remises », and
    the rejection's e-mail had said the invoice was to pay again."""
    boulangerie = company(apps, client, mail)
    asked = boulangerie.pay(name="Laiterie des Prés", amount=12_345)
    other = boulangerie.pay(name="Moulin Girard", iban=valid_iban(4_100_003), amount=9_900)
    batch = boulangerie.execute()
    boulangerie.bank_answers(batch.id, {f"LIBEO-{asked['id']}": ("RJCT", "AC04"),
                                        f"LIBEO-{other['id']}": ("RJCT", "AM04")})
    mail.send("libeo")
    mail.clear()  # the file and the rejections (their own tests)

    with apps.libeo.app_context():
        xml = db.session.get(SepaBatch, batch.id).xml
        import_bank_status(statement_for(xml, debited=[f"LIBEO-{asked['id']}"], booking_date=paris_today(),
                                         message_id="CAMT054-CRON"), imported_by="ligne de commande")
        db.session.commit()
    mail.send("libeo")
    message = mail.one(boulangerie.admin)
    assert message.subject == "1 anomalie bancaire à vérifier : Laiterie des Prés, 123,45 € (facture F-2026-001)"
    for body in (" ".join(message.text.split()), " ".join(re.sub(r"<[^>]+>", " ", message.html_text).split())):
        assert ("Un fichier de votre banque importé dans Libeo contredit ce que Libeo sait d'un virement. Libeo n'a "
                "rien changé : regardez sur le relevé de votre compte bancaire si l'argent est bien sorti") in body
        assert "Fichier : Avis de débit (camt.054) CAMT054-CRON" in body
        assert "alors qu'il est « Rejeté : compte du bénéficiaire clôturé (AC04) »" in body
        assert "Ce paiement a été demandé par MEG, qui affiche cette anomalie." in body
        assert "ne peut pas être payée de nouveau" in body
    assert "http://127.0.0.1:5000/libeo/remises/#anomalies" in message.text

    # The same file again changes nothing and tells nobody; an anomaly decided before the worker's pass
    # is not told.
    with apps.libeo.app_context():
        import_bank_status(statement_for(xml, debited=[f"LIBEO-{asked['id']}"], booking_date=paris_today(),
                                         message_id="CAMT054-CRON"), imported_by="ligne de commande")
        import_bank_status(statement_for(xml, debited=[f"LIBEO-{other['id']}"], booking_date=paris_today(),
                                         message_id="CAMT054-CRON-2"), imported_by="ligne de commande")
        db.session.commit()
        [anomaly] = db.session.scalars(select(BankAnomaly).where(BankAnomaly.resolved_at.is_(None),
                                                                 BankAnomaly.payment_id == other["id"])).all()
        resolve_anomaly(db.session.get(Account, boulangerie.info.id), anomaly.id, "keep", boulangerie.admin)
        db.session.commit()
    mail.clear()
    report = mail.send("libeo")
    assert mail.received == [] and report.moot == 1


def test_who_imports_a_file_on_remises_reads_its_anomalies_there_and_is_not_written_to(apps, client, mail):
    boulangerie = company(apps, client, mail)
    asked = boulangerie.pay(name="Laiterie des Prés", amount=12_345)
    batch = boulangerie.execute()
    boulangerie.bank_answers(batch.id, {f"LIBEO-{asked['id']}": ("RJCT", "AC04")})
    mail.send("libeo")
    mail.clear()
    with apps.libeo.app_context():
        xml = db.session.get(SepaBatch, batch.id).xml
        import_bank_status(statement_for(xml, debited=[f"LIBEO-{asked['id']}"], booking_date=paris_today()),
                           imported_by=boulangerie.admin)
        db.session.commit()
    mail.send("libeo")
    assert mail.received == []


def test_the_last_free_payment_of_the_month_tells_the_administrators_once(apps, client, mail):
    boulangerie = company(apps, client, mail, plan=Plan.GRATUIT)
    for n in range(4):
        boulangerie.pay(name=f"Fournisseur {n}", iban=valid_iban(4_200_000 + n), amount=1_000 + n)
    mail.send("libeo")
    assert [m.message["Subject"] for m in mail.received] == []
    boulangerie.pay(name="Fournisseur 5", iban=valid_iban(4_200_005), amount=2_000)
    refused = boulangerie.api.pay("meg-99", key="idem-99", body=pay_body(
        execution_date=DAY.isoformat(), invoice=invoice_body(99, supplier={"name": "X", "iban": valid_iban(9)})))
    assert refused.status_code == 402 or refused.status_code == 409 or refused.status_code >= 400
    mail.send("libeo")

    message = mail.one(boulangerie.admin)
    assert message.subject == "Les 5 paiements du mois de la formule Gratuit sont utilisés"
    assert "http://127.0.0.1:5000/libeo/abonnement\r\n" in message.text


def test_the_quota_freed_before_the_worker_sends_its_e_mail_is_not_told(apps, client, mail):
    """The fifth payment used the month up, then was cancelled before the worker's pass: the plan is not full,
    and an e-mail saying « sont utilisés » would be false."""
    from models.libeo.payments.models import Payment
    from models.libeo.payments.order import cancel_payment

    boulangerie = company(apps, client, mail, plan=Plan.GRATUIT)
    for n in range(5):
        last = boulangerie.pay(name=f"Fournisseur {n}", iban=valid_iban(4_200_000 + n), amount=1_000 + n)
    with apps.libeo.app_context():
        cancel_payment(db.session.get(Account, boulangerie.info.id), db.session.get(Payment, last["id"]),
                       boulangerie.admin)
        db.session.commit()
    mail.send("libeo")
    assert [m.message["Subject"] for m in mail.received] == []

    # Used up again the same month: told then.
    boulangerie.pay(name="Fournisseur 6", iban=valid_iban(4_200_006), amount=2_000)
    mail.send("libeo")
    assert mail.one(boulangerie.admin).subject == "Les 5 paiements du mois de la formule Gratuit sont utilisés"


def test_a_new_api_key_and_a_link_to_meg_are_security_notices_that_cannot_be_turned_off(apps, client, mail,
                                                                                        libeo_auth):
    boulangerie = company(apps, client, mail)
    libeo_auth.login(boulangerie.admin)
    turned_off = client.post("/libeo/notifications/", data={
        "payment_held": "off", "payment_rejected": "off", "payment_debited": "off", "sepa_file_ready": "off",
        "bank_anomaly": "off", "quota_reached": "off", "due_reminder": "off", "security": "off"}, follow_redirects=True)
    assert "Vos choix de notifications sont enregistrés." in text(turned_off)
    assert "Toujours envoyées à chaque événement" in text(turned_off)

    regenerated = client.post("/libeo/configuration/integrations/meg", follow_redirects=True)
    assert regenerated.status_code == 200
    mail.send("libeo")

    message = mail.one(boulangerie.admin)
    assert message.subject == "Sécurité : nouvelle clé d'API MEG pour Boulangerie Martin SARL"
    assert "Elle remplace la précédente" in message.text
    assert message.header("List-Unsubscribe") is None  # nothing to unsubscribe from
    assert "ne peut pas être désactivée" in message.text
    with apps.libeo.app_context():
        from models.libeo.accounts.keys import active_api_key

        account = db.session.get(Account, boulangerie.info.id)
        prefix = active_api_key(account).prefix
    assert f"{prefix}…" in message.text
    assert "lbo_meg_" in message.text and len(message.text.split(prefix)[1]) > 0
    # The secret part of the key never leaves Libeo: only its public prefix is in the e-mail.
    assert not any(len(word) > 40 and word.startswith("lbo_meg_") for word in message.raw().split())


# --- preferences, unsubscribing, the digest ---------------------------------------------------------


def test_a_kind_turned_off_is_not_sent(apps, client, mail, libeo_auth):
    boulangerie = company(apps, client, mail)
    libeo_auth.login(boulangerie.admin)
    page = text(client.get("/libeo/notifications/"))
    for label in ("Paiements à approuver", "Paiements rejetés", "Paiements débités", "Remises SEPA prêtes",
                  "Anomalies bancaires", "Quota de paiements atteint", "Échéances des factures", "Alertes de sécurité"):
        assert label in page
    client.post("/libeo/notifications/", data={
        "payment_held": "off", "payment_rejected": "immediate", "payment_debited": "immediate",
        "sepa_file_ready": "immediate", "bank_anomaly": "immediate",
        "quota_reached": "immediate", "due_reminder": "immediate"})
    boulangerie.held()
    report = mail.send("libeo")

    assert mail.received == [] and report.turned_off == 1
    assert [row["status"] for row in outbox_rows(apps.libeo, "libeo") if row["kind"] == "payment_held"] == ["off"]


def test_a_bad_choice_is_refused_in_french_and_changes_nothing(apps, client, mail, libeo_auth):
    boulangerie = company(apps, client, mail)
    libeo_auth.login(boulangerie.admin)
    answer = client.post("/libeo/notifications/", data={"payment_held": "parfois"})
    assert answer.status_code == 200
    assert "N'est pas un choix valide." in text(answer)
    boulangerie.held()
    mail.send("libeo")
    assert len(mail.to(boulangerie.admin)) == 1


def test_unsubscribe_by_the_link_of_the_e_mail_without_signing_in(apps, client, mail):
    boulangerie = company(apps, client, mail)
    boulangerie.held()
    mail.send("libeo")
    link = mail.one(boulangerie.admin).unsubscribe_url
    assert link in mail.one(boulangerie.admin).text  # the same link, readable in the e-mail
    path = link.removeprefix("http://127.0.0.1:5000")

    confirm = client.get(path)
    assert confirm.status_code == 200
    assert "Paiements à approuver" in text(confirm) and "Me désabonner" in text(confirm)
    done = client.post(path)
    assert "Désabonnement enregistré" in text(done) and boulangerie.admin in text(done)

    mail.clear()
    boulangerie.pay(number=50, iban=valid_iban(4_100_050), amount=5_050)  # a third IBAN: held again
    mail.send("libeo")
    assert mail.received == []


def test_one_click_unsubscribe_by_post_as_mail_clients_do_it(apps, client, mail):
    boulangerie = company(apps, client, mail)
    boulangerie.held()
    mail.send("libeo")
    link = mail.one(boulangerie.admin).unsubscribe_url

    # RFC 8058: a POST of « List-Unsubscribe=One-Click », no cookie, no form token.
    answer = apps.root.test_client().post(link.removeprefix("http://127.0.0.1:5000"),
                                          data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    with apps.libeo.app_context():
        from models.libeo.notifications.kinds import notifier

        assert notifier.modes(boulangerie.admin)["payment_held"].value == "off"
        assert notifier.modes(boulangerie.admin)["payment_rejected"].value == "immediate"


def test_a_forged_or_altered_unsubscribe_link_is_refused(apps, client, mail):
    boulangerie = company(apps, client, mail)
    boulangerie.held()
    mail.send("libeo")
    link = mail.one(boulangerie.admin).unsubscribe_url.removeprefix("http://127.0.0.1:5000")
    altered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")

    for answer in (client.get(altered), client.post(altered), client.post("/libeo/notifications/desabonnement/x")):
        assert answer.status_code == 404
        assert "Ce lien de désabonnement n'est pas valable" in text(answer)
    with apps.libeo.app_context():
        from models.libeo.notifications.kinds import notifier

        assert notifier.modes(boulangerie.admin)["payment_held"].value == "immediate"


def a_day_for_the_digest(apps, client, mail, libeo_auth) -> tuple[Company, datetime]:
    """The administrator chose the daily digest for held payments and SEPA files; two payments held and a file
    made are postponed to it (nothing sent now). Returns the company and the next 8:00, Paris time."""
    boulangerie = company(apps, client, mail)
    libeo_auth.login(boulangerie.admin)
    client.post("/libeo/notifications/", data={
        "payment_held": "digest", "payment_rejected": "immediate", "payment_debited": "immediate",
        "sepa_file_ready": "digest", "bank_anomaly": "immediate",
        "quota_reached": "immediate", "due_reminder": "immediate"})
    boulangerie.held()
    boulangerie.pay(name="Moulin Girard", iban=valid_iban(4_100_003), amount=7_000)
    boulangerie.pay(name="Moulin Girard", iban=valid_iban(4_100_004), amount=7_001)  # held too: new IBAN
    boulangerie.execute()
    now = utcnow()
    report = mail.send("libeo", now)
    assert mail.received == [] and report.postponed_to_digest == 3
    at_8 = datetime.combine(now.astimezone(PARIS).date(), time(8), PARIS)
    return boulangerie, at_8 if now < at_8 else at_8 + timedelta(days=1)


def test_the_daily_digest_gathers_the_day_in_one_e_mail(apps, client, mail, libeo_auth):
    boulangerie, digest_time = a_day_for_the_digest(apps, client, mail, libeo_auth)
    mail.send("libeo", digest_time - timedelta(minutes=1))
    assert mail.received == []  # not before 8:00
    mail.send("libeo", digest_time + timedelta(minutes=1))

    digest = mail.one(boulangerie.admin)
    assert digest.subject == "Récapitulatif : 3 notifications"
    assert "1 paiement à approuver : Minoterie Dupont, 410,00 €, nouvel IBAN" in digest.text
    assert "1 paiement à approuver : Moulin Girard, 70,01 €, nouvel IBAN" in digest.text
    assert "Remise SEPA prête à transmettre à la banque" in digest.text
    assert "/libeo/paiements/" in digest.html and "/libeo/remises/" in digest.html
    assert digest.unsubscribe_url and "desabonnement" in digest.unsubscribe_url
    mail.send("libeo", digest_time + timedelta(hours=1))
    assert len(mail.received) == 1  # sent once

    # The digest's own link turns off what the person receives in it.
    apps.root.test_client().post(digest.unsubscribe_url.removeprefix("http://127.0.0.1:5000"))
    with apps.libeo.app_context():
        from models.libeo.notifications.kinds import notifier

        modes = notifier.modes(boulangerie.admin)
    assert (modes["payment_held"].value, modes["sepa_file_ready"].value) == ("off", "off")
    assert modes["payment_rejected"].value == "immediate"


# --- a dead SMTP server, bounces, duplicates ----------------------------------------------------------


def test_a_pass_that_outlasts_its_window_stops_and_nothing_is_sent_twice(apps, client, mail, monkeypatch):
    """A slow mail server: past its sending window (well within its claim on the rows) a pass starts no new
    message; the rows it did not send are sent by a later pass, once its claim has lapsed, each exactly once."""
    import core.notifications as notifications
    from core.notifications import CLAIM, Recipient
    from models.libeo.notifications.kinds import notifier

    boulangerie = company(apps, client, mail)
    with apps.libeo.app_context():
        for n in range(3):
            notifier.outbox.enqueue("api_key_created", f"key:test{n}", [Recipient(boulangerie.admin)],
                                    {"account_name": "Boulangerie Martin SARL", "prefix": f"lbo_meg_{n:012d}",
                                     "actor": boulangerie.admin, "replaced": False}, boulangerie.info.id)
        notifier.db.session.commit()
    monkeypatch.setattr(notifications, "SENDING_WINDOW", timedelta(0))  # every message takes « too long »
    now = utcnow()
    assert mail.send("libeo", now).sent == 1
    assert len(mail.received) == 1
    assert mail.send("libeo", now + timedelta(minutes=1)).sent == 0  # still claimed by the first pass
    monkeypatch.setattr(notifications, "SENDING_WINDOW", timedelta(minutes=6))
    assert mail.send("libeo", now + CLAIM + timedelta(minutes=1)).sent == 2
    prefixes = sorted(line for m in mail.received for line in m.text.splitlines() if line.startswith("Clé :"))
    assert prefixes == [f"Clé : lbo_meg_{n:012d}…" for n in range(3)]


def test_a_dead_smtp_server_delays_mail_and_fails_nothing(apps, client, smtp, mail):
    boulangerie = company(apps, client, mail)
    smtp.stop()
    payment = boulangerie.held()  # the payment and its pages never wait for mail
    assert client.get(f"/libeo/api/v1/payments/{payment['id']}",
                      headers=boulangerie.api.headers()).status_code == 200

    report = mail.send("libeo")
    assert report.delayed == 1 and report.sent == 0
    [row] = [r for r in outbox_rows(apps.libeo, "libeo") if r["kind"] == "payment_held"]
    assert row["status"] == "pending" and row["attempts"] == 1 and "injoignable" in row["last_error"]
    mail.send("libeo")  # too early for the retry: nothing tried
    assert [r["attempts"] for r in outbox_rows(apps.libeo, "libeo") if r["kind"] == "payment_held"] == [1]

    smtp.start()
    mail.send("libeo", utcnow() + timedelta(minutes=1))
    assert [m.subject for m in mail.to(boulangerie.admin)] == [
        "1 paiement à approuver : Minoterie Dupont, 410,00 €, nouvel IBAN"]
    mail.send("libeo", utcnow() + timedelta(hours=2))
    assert len(mail.received) == 1


def test_an_address_the_server_refuses_is_marked_and_shown_on_the_next_visit(apps, client, smtp, mail, libeo_auth):
    boulangerie = company(apps, client, mail)
    smtp.refuse(boulangerie.admin)
    boulangerie.held()
    report = mail.send("libeo")
    assert report.bounced == 1 and mail.received == []

    libeo_auth.login(boulangerie.admin)
    home = text(client.get("/libeo/factures/"))
    assert "Vos notifications ne vous parviennent plus." in home and boulangerie.admin in home
    page = text(client.get("/libeo/notifications/"))
    assert "Votre adresse refuse nos e-mails." in page and "550 5.1.1" in page

    # Later notifications are not sent to a refused address…
    boulangerie.pay(number=60, iban=valid_iban(4_100_060), amount=6_060)
    mail.send("libeo")
    assert mail.received == []
    # … until the person says it works again.
    smtp.handler.refuse.clear()
    done = client.post("/libeo/notifications/reessayer", follow_redirects=True)
    assert f"Les notifications seront de nouveau envoyées à {boulangerie.admin}." in text(done)
    assert "Vos notifications ne vous parviennent plus." not in text(client.get("/libeo/factures/"))
    boulangerie.pay(number=61, iban=valid_iban(4_100_061), amount=6_061)
    mail.send("libeo")
    assert [m.subject for m in mail.received] == ["1 paiement à approuver : Minoterie Dupont, 60,61 €, nouvel IBAN"]


def test_a_replayed_request_and_an_event_told_twice_send_one_e_mail(apps, client, mail):
    boulangerie = company(apps, client, mail)
    boulangerie.pay(amount=25_000)
    first = boulangerie.pay(iban=NEW_IBAN, number=7, key="same-key")
    again = boulangerie.pay(iban=NEW_IBAN, number=7, key="same-key")  # MEG's replay: the same answer
    assert again["id"] == first["id"]
    with apps.libeo.app_context():  # the same event written again (a retried transaction), twice
        from models.libeo import Payment
        from models.libeo.notifications.events import payments_moved

        compiled = []

        def kept(connection, cursor, statement, parameters, context, executemany):
            if statement.startswith("INSERT INTO notification"):
                compiled.append(context.compiled)

        event.listen(db.engine, "before_cursor_execute", kept)
        try:
            for _ in range(2):
                payments_moved(boulangerie.info.id, [db.session.get(Payment, first["id"])])
                db.session.commit()
        finally:
            event.remove(db.engine, "before_cursor_execute", kept)
    # Its statement is compiled once, then taken from SQLAlchemy's cache (a held payment's busiest transaction).
    assert len(compiled) == 2 and compiled[0] is compiled[1]
    mail.send("libeo")
    mail.send("libeo")

    assert len(mail.to(boulangerie.admin)) == 1
    assert len([r for r in outbox_rows(apps.libeo, "libeo") if r["kind"] == "payment_held"]) == 1


def test_concurrent_workers_send_each_e_mail_once(apps, client, mail):
    boulangerie = company(apps, client, mail)
    with apps.libeo.app_context():
        admin_id = db.session.scalar(select(LibeoUser.id).where(LibeoUser.email == boulangerie.admin))
        for n in range(30):
            outbox.enqueue("payment_debited", f"payment:{9000 + n}:paid",
                           [outbox_recipient(boulangerie.admin, admin_id)],
                           {"payment_id": 9000 + n, "invoice_number": f"F-{n}", "supplier": "Minoterie Dupont",
                            "amount": "1,00 €", "iban": "FR76 ••••", "bank": None, "status_label": "Payé"},
                           boulangerie.info.id)
        db.session.commit()

    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            for _ in range(3):
                mail.send("libeo")
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    subjects = [m.subject for m in mail.to(boulangerie.admin)]
    assert len(subjects) == 30 and len(set(subjects)) == 30
    assert {r["status"] for r in outbox_rows(apps.libeo, "libeo")} == {"sent"}


def outbox_recipient(email: str, user_id: int):
    from core.notifications import Recipient

    return Recipient(email, user_id)


# --- the development page -------------------------------------------------------------------------


def test_the_sent_mail_page_exists_only_with_the_local_smtp_server(apps, client, tmp_path, libeo_auth):
    from devtools.smtp_server import LocalSmtp

    assert client.get("/libeo/notifications/e-mails-envoyes").status_code == 404
    folder = tmp_path / "mailbox"
    local = LocalSmtp(maildir=folder).start()
    try:
        apps.libeo.config.update(SMTP_URL=local.url, LOCAL_MAILBOX=str(folder))
        boulangerie = Company(apps, client)
        boulangerie.held()
        with apps.libeo.app_context():
            from models.libeo.notifications.kinds import notifier

            notifier.run_pass()
    finally:
        local.stop()

    page = text(client.get("/libeo/notifications/e-mails-envoyes"))
    assert "E-mails envoyés" in page
    assert "1 paiement à approuver : Minoterie Dupont, 410,00 €, nouvel IBAN" in page and boulangerie.admin in page
    assert "Sécurité : nouvelle clé d'API MEG" in page
    key = page.split("/libeo/notifications/e-mails-envoyes/")[1].split('"')[0]
    detail = client.get(f"/libeo/notifications/e-mails-envoyes/{key}")
    assert detail.status_code == 200 and "Version HTML" in text(detail) and "<iframe" in text(detail)
    html = client.get(f"/libeo/notifications/e-mails-envoyes/{key}/html")
    assert html.status_code == 200 and "sandbox" in html.headers["Content-Security-Policy"]
    assert html.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert client.get("/libeo/notifications/e-mails-envoyes/..%2F..%2Fetc").status_code == 404


def test_a_notification_that_cannot_be_written_holds_no_other_back(apps, client, mail):
    boulangerie = company(apps, client, mail)
    with apps.libeo.app_context():
        outbox.enqueue("payment_debited", "payment:777:paid", [outbox_recipient(boulangerie.admin, None)],
                       {"payment_id": 777}, boulangerie.info.id)  # what its e-mail needs is missing
        outbox.enqueue("payment_debited", "payment:778:paid", [outbox_recipient(boulangerie.admin, None)],
                       {"payment_id": 778, "invoice_number": "F-1\nBcc: autre@example.fr", "supplier": "Minoterie\r\nX",
                        "amount": "1,00 €", "iban": "FR76 ••••", "bank": None, "status_label": "Payé"},
                       boulangerie.info.id)
        db.session.commit()
    report = mail.send("libeo")

    assert (report.sent, report.failed) == (1, 1)
    [message] = mail.received
    assert message.subject == "Paiement débité : Minoterie X, 1,00 € (facture F-1 Bcc: autre@example.fr)"
    assert message.header("Bcc") is None and [m.to for m in mail.received] == [boulangerie.admin]
    assert [r["status"] for r in outbox_rows(apps.libeo, "libeo") if r["kind"] == "payment_debited"] == [
        "failed", "sent"]
