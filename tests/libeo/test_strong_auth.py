"""Strong authentication in Libeo, over HTTP: enrolling an authentication app and recovery codes, and the
second factor that approving a held payment, changing the debit IBAN, the approval rules, the users or
the MEG key asks — bound, for an approval, to the payments' amounts and payee IBANs.

A person who enrolled nothing keeps the password-only flow (the other test files rely on it), unless the
account requires the second factor for everyone. Passkeys are tested in a browser (tests/e2e).
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from html import unescape

import pyotp
import pytest
from sqlalchemy import select, update

from core.calendar import earliest_execution_date
from core.dates import paris_today, utcnow
from core.second_factor import SecondFactorError, totp_step
from models.libeo import (
    Account,
    DebtorIbanChange,
    JournalEntry,
    LibeoUser,
    Passkey,
    Payment,
    PaymentStatus,
    Plan,
    RecoveryCode,
    StrongAuthChallenge,
    TotpFactor,
    db,
)
from tests.helpers import totp_code as code

from .conftest import DEBTOR_IBAN, Api, invoice_body, make_account, make_key, pay_body, valid_iban


def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    return {"DAY": earliest_execution_date(paris_today())}


(DAY,) = dated_constants().values()
NEW_DEBTOR_IBAN = "FR7630004008220000001583859"


def text(response) -> str:
    return unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\u00a0", " ")



@pytest.fixture
def admin(libeo_app, client, libeo_auth):
    """A verified Partnerships account whose rule holds every payment, its administrator signed in."""
    info = make_account(libeo_app, name="Boulangerie Martin SARL", plan=Plan.PARTNERSHIPS, debtor_iban=DEBTOR_IBAN)
    with libeo_app.app_context():
        db.session.get(Account, info.id).approval_threshold_cents = 0
        db.session.commit()
    libeo_auth.login(info.email)
    info.api = Api(client, make_key(libeo_app, info.id))
    return info


def held_payment(admin, n: int) -> int:
    body = pay_body(execution_date=DAY.isoformat(), invoice=invoice_body(n))
    answer = admin.api.pay(f"ext-{n}", key=f"idem-{n}", body=body)
    assert answer.status_code == 201 and answer.json["status"] == "awaiting_approval", answer.json
    return answer.json["id"]


def enrol_totp(client) -> str:
    """« Activer une application d'authentification »: the secret shown, then a first code (of the previous
    window, so that the tests' next codes are later ones)."""
    assert client.post("/libeo/securite/application").status_code == 302
    page = text(client.get("/libeo/securite/application"))
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    done = client.post("/libeo/securite/application/confirmer", data={"code": code(secret, -1)})
    assert done.status_code == 200
    assert "Vos codes de secours" in text(done)
    return secret


def recovery_codes(response) -> list[str]:
    return re.findall(r"<li>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</li>", response.get_data(as_text=True))


def challenge_of(response) -> str:
    return re.search(r'name="sca_challenge" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def status(libeo_app, payment_id: int) -> PaymentStatus:
    with libeo_app.app_context():
        return db.session.get(Payment, payment_id).status


# --- enrolment ----------------------------------------------------------------------------------------

def test_enrolling_an_app_shows_ten_recovery_codes_once_and_keeps_only_their_hashes(admin, client, libeo_app):
    client.post("/libeo/securite/application")
    page = text(client.get("/libeo/securite/application"))
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    wrong = client.post("/libeo/securite/application/confirmer", data={"code": "000000" if code(secret) != "000000"
                                                                       else "111111"})
    assert wrong.status_code == 422
    assert "Code incorrect : saisissez les 6 chiffres" in text(wrong)
    done = client.post("/libeo/securite/application/confirmer", data={"code": code(secret)})
    codes = recovery_codes(done)
    assert len(codes) == 10 and len(set(codes)) == 10
    overview = text(client.get("/libeo/securite/"))
    assert "Activée : Libeo accepte les codes" in overview
    assert not any(c in overview for c in codes)
    with libeo_app.app_context():
        stored = db.session.scalar(select(TotpFactor.secret))
        assert secret not in stored  # sealed, not in clear
        hashes = list(db.session.scalars(select(RecoveryCode.code_hash)))
        assert len(hashes) == 10 and not any(c.replace("-", "") in h for c in codes for h in hashes)


def test_a_person_without_a_factor_keeps_the_password_only_flow(admin, client, libeo_app):
    payment_id = held_payment(admin, 1)
    assert client.post(f"/libeo/a-approuver/{payment_id}/approuver").status_code == 302
    assert status(libeo_app, payment_id) is PaymentStatus.SCHEDULED


# --- approving a held payment -------------------------------------------------------------------------

def test_an_enrolled_admin_approves_with_a_code_after_reading_the_amount_and_iban(admin, client, libeo_app):
    secret = enrol_totp(client)
    payment_id = held_payment(admin, 1)
    asked = client.post(f"/libeo/a-approuver/{payment_id}/approuver", data={"next": "/libeo/a-approuver/"})
    page = text(asked)
    assert asked.status_code == 200 and "Confirmez votre identité" in page
    assert "Approuver le paiement" in page and "486,51 €" in page and "FR76 ••••" in page
    assert status(libeo_app, payment_id) is PaymentStatus.AWAITING_APPROVAL
    done = client.post(f"/libeo/a-approuver/{payment_id}/approuver",
                       data={"next": "/libeo/a-approuver/", "sca_challenge": challenge_of(asked),
                             "sca_code": code(secret)})
    assert done.status_code == 302 and done.headers["Location"].endswith("/libeo/a-approuver/")
    assert status(libeo_app, payment_id) is PaymentStatus.SCHEDULED


def test_a_wrong_code_is_refused_in_french_and_nothing_is_approved(admin, client, libeo_app):
    secret = enrol_totp(client)
    payment_id = held_payment(admin, 1)
    asked = client.post(f"/libeo/a-approuver/{payment_id}/approuver")
    good = code(secret)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    refused = client.post(f"/libeo/a-approuver/{payment_id}/approuver",
                          data={"sca_challenge": challenge_of(asked), "sca_code": wrong})
    assert refused.status_code == 422
    assert "Code incorrect : saisissez les 6 chiffres que votre application d'authentification affiche" in text(refused)
    assert status(libeo_app, payment_id) is PaymentStatus.AWAITING_APPROVAL


def _in_other_digits(code_: str, zero: str) -> str:
    """The same code in another script's digits (full-width, as a Japanese keyboard types them; Arabic-Indic)."""
    return "".join(chr(ord(zero) + int(digit)) for digit in code_)


def test_a_code_typed_in_other_digits_is_refused_in_french(admin, client, libeo_app):
    """Only the digits 0 to 9 make a code: the same six in full-width or Arabic-Indic digits are a wrong code,
    refused in French, and nothing is activated nor approved."""
    client.post("/libeo/securite/application")
    page = text(client.get("/libeo/securite/application"))
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    for zero in ("\uff10", "\u0660"):
        refused = client.post("/libeo/securite/application/confirmer",
                              data={"code": _in_other_digits(code(secret), zero)})
        assert refused.status_code == 422 and "Code incorrect : saisissez les 6 chiffres" in text(refused)
    with libeo_app.app_context():
        assert db.session.scalar(select(TotpFactor.confirmed_at)) is None
    secret = enrol_totp(client)
    payment_id = held_payment(admin, 1)
    asked = client.post(f"/libeo/a-approuver/{payment_id}/approuver")
    for zero in ("\uff10", "\u0660"):
        typed = _in_other_digits(code(secret), zero)
        asked = client.post(f"/libeo/a-approuver/{payment_id}/approuver",
                            data={"sca_challenge": challenge_of(asked), "sca_code": typed})
        assert asked.status_code == 422 and "Code incorrect : saisissez les 6 chiffres" in text(asked)
    assert status(libeo_app, payment_id) is PaymentStatus.AWAITING_APPROVAL


def test_a_code_replayed_in_its_window_is_refused(admin, client, libeo_app):
    secret = enrol_totp(client)
    first, second = held_payment(admin, 1), held_payment(admin, 2)
    same = code(secret)
    asked = client.post(f"/libeo/a-approuver/{first}/approuver")
    client.post(f"/libeo/a-approuver/{first}/approuver", data={"sca_challenge": challenge_of(asked), "sca_code": same})
    assert status(libeo_app, first) is PaymentStatus.SCHEDULED
    asked = client.post(f"/libeo/a-approuver/{second}/approuver")
    replayed = client.post(f"/libeo/a-approuver/{second}/approuver",
                           data={"sca_challenge": challenge_of(asked), "sca_code": same})
    assert replayed.status_code == 422
    assert "Ce code a déjà servi : attendez le suivant" in text(replayed)
    assert status(libeo_app, second) is PaymentStatus.AWAITING_APPROVAL
    # The next window's code passes.
    later = client.post(f"/libeo/a-approuver/{second}/approuver",
                        data={"sca_challenge": challenge_of(replayed), "sca_code": code(secret, 1)})
    assert later.status_code == 302
    assert status(libeo_app, second) is PaymentStatus.SCHEDULED


def test_a_code_of_a_window_already_passed_is_refused_too(libeo_app):
    secret = pyotp.random_base32()
    now = time.time()
    step = totp_step(secret, pyotp.TOTP(secret).at(now), None, now)
    with pytest.raises(SecondFactorError, match="déjà servi"):
        totp_step(secret, pyotp.TOTP(secret).at(now - 30), step, now)


def test_a_verification_older_than_five_minutes_is_refused(admin, client, libeo_app):
    secret = enrol_totp(client)
    payment_id = held_payment(admin, 1)
    asked = client.post(f"/libeo/a-approuver/{payment_id}/approuver")
    token = challenge_of(asked)
    with libeo_app.app_context():
        db.session.execute(update(StrongAuthChallenge).where(StrongAuthChallenge.token == token)
                           .values(created_at=utcnow() - timedelta(minutes=5, seconds=5)))
        db.session.commit()
    stale = client.post(f"/libeo/a-approuver/{payment_id}/approuver",
                        data={"sca_challenge": token, "sca_code": code(secret)})
    assert stale.status_code == 422
    assert "La vérification a expiré (plus de 5 minutes) : rien n'a été fait." in text(stale)
    assert status(libeo_app, payment_id) is PaymentStatus.AWAITING_APPROVAL


def test_a_challenge_for_one_payment_cannot_approve_another_amount(admin, client, libeo_app):
    secret = enrol_totp(client)
    first, second = held_payment(admin, 1), held_payment(admin, 2)  # 486,51 € and 486,52 €
    asked = client.post(f"/libeo/a-approuver/{first}/approuver")
    reused = client.post(f"/libeo/a-approuver/{second}/approuver",
                         data={"sca_challenge": challenge_of(asked), "sca_code": code(secret)})
    assert reused.status_code == 422
    assert "L'opération a changé depuis la demande de vérification (montant, IBAN ou bénéficiaire)" in text(reused)
    assert "486,52 €" in text(reused)  # the page shows what is now being confirmed
    assert status(libeo_app, first) is PaymentStatus.AWAITING_APPROVAL
    assert status(libeo_app, second) is PaymentStatus.AWAITING_APPROVAL


@pytest.mark.parametrize("change", ["amount_cents", "creditor_iban"])
def test_a_payment_changed_after_the_challenge_voids_it(admin, client, libeo_app, change):
    secret = enrol_totp(client)
    payment_id = held_payment(admin, 1)
    asked = client.post(f"/libeo/a-approuver/{payment_id}/approuver")
    with libeo_app.app_context():
        payment = db.session.get(Payment, payment_id)
        setattr(payment, change, 99_999_00 if change == "amount_cents" else valid_iban(4_242_424))
        db.session.commit()
    refused = client.post(f"/libeo/a-approuver/{payment_id}/approuver",
                          data={"sca_challenge": challenge_of(asked), "sca_code": code(secret)})
    assert refused.status_code == 422
    assert "L'opération a changé depuis la demande de vérification" in text(refused)
    assert status(libeo_app, payment_id) is PaymentStatus.AWAITING_APPROVAL


def test_a_challenge_serves_once(admin, client, libeo_app):
    secret = enrol_totp(client)
    first = held_payment(admin, 1)
    asked = client.post(f"/libeo/a-approuver/{first}/approuver")
    token = challenge_of(asked)
    client.post(f"/libeo/a-approuver/{first}/approuver", data={"sca_challenge": token, "sca_code": code(secret)})
    with libeo_app.app_context():
        db.session.get(Payment, first).status = PaymentStatus.AWAITING_APPROVAL  # held again, same amount and IBAN
        db.session.commit()
    again = client.post(f"/libeo/a-approuver/{first}/approuver",
                        data={"sca_challenge": token, "sca_code": code(secret, 1)})
    assert again.status_code == 422
    assert "Cette vérification n'est plus valable" in text(again)


def test_a_recovery_code_serves_once(admin, client, libeo_app):
    client.post("/libeo/securite/application")
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<',
                       text(client.get("/libeo/securite/application"))).group(1).replace(" ", "")
    codes = recovery_codes(client.post("/libeo/securite/application/confirmer", data={"code": code(secret)}))
    first, second = held_payment(admin, 1), held_payment(admin, 2)
    asked = client.post(f"/libeo/a-approuver/{first}/approuver")
    used = client.post(f"/libeo/a-approuver/{first}/approuver",
                       data={"sca_challenge": challenge_of(asked), "sca_recovery_code": codes[0].lower()})
    assert used.status_code == 302
    assert status(libeo_app, first) is PaymentStatus.SCHEDULED
    asked = client.post(f"/libeo/a-approuver/{second}/approuver")
    again = client.post(f"/libeo/a-approuver/{second}/approuver",
                        data={"sca_challenge": challenge_of(asked), "sca_recovery_code": codes[0]})
    assert again.status_code == 422
    assert "Ce code de secours n'est pas valable, ou il a déjà servi" in text(again)
    assert "9" in text(client.get("/libeo/securite/")).split('data-testid="codes-left">')[1][:3]


# --- the other sensitive operations --------------------------------------------------------------------

def test_changing_the_debit_iban_asks_then_counts_five_minutes(admin, client, libeo_app):
    secret = enrol_totp(client)
    asked = client.post("/libeo/configuration/", data={"iban": NEW_DEBTOR_IBAN, "bic": ""})
    assert asked.status_code == 200 and "Changer le compte bancaire débité" in text(asked)
    assert "FR76 ••••" in text(asked)
    with libeo_app.app_context():
        assert db.session.scalar(select(DebtorIbanChange)) is None
    done = client.post("/libeo/configuration/", data={"iban": NEW_DEBTOR_IBAN, "bic": "",
                                                      "sca_challenge": challenge_of(asked), "sca_code": code(secret)})
    assert done.status_code == 302
    with libeo_app.app_context():  # with approval rules, a second administrator confirms it
        assert db.session.scalar(select(DebtorIbanChange.new_iban)) == NEW_DEBTOR_IBAN
    # Within five minutes, the rules change without asking again…
    assert client.post("/libeo/configuration/approbations", data={"threshold": "100"}).status_code == 302
    # … and after them, it asks again.
    with libeo_app.app_context():
        db.session.execute(update(StrongAuthChallenge).values(used_at=utcnow() - timedelta(minutes=5, seconds=1)))
        db.session.commit()
    asked = client.post("/libeo/configuration/approbations", data={"threshold": "200"})
    assert asked.status_code == 200 and "Modifier les règles d'approbation" in text(asked)
    with libeo_app.app_context():
        assert db.session.get(Account, admin.id).approval_threshold_cents == 100_00


def test_a_verification_for_one_debit_iban_does_not_set_another(admin, client, libeo_app):
    secret = enrol_totp(client)
    asked = client.post("/libeo/configuration/", data={"iban": NEW_DEBTOR_IBAN, "bic": ""})
    other = valid_iban(5_151_515)
    refused = client.post("/libeo/configuration/", data={"iban": other, "bic": "", "sca_challenge": challenge_of(asked),
                                                         "sca_code": code(secret)})
    assert refused.status_code == 422 and "L'opération a changé" in text(refused)
    with libeo_app.app_context():
        assert db.session.get(Account, admin.id).debtor_iban == DEBTOR_IBAN
        assert db.session.scalar(select(DebtorIbanChange)) is None


@pytest.mark.parametrize("path, data, label", [
    ("/libeo/configuration/integrations/meg", {}, "Créer ou révoquer une clé d'API"),
    ("/libeo/configuration/integrations/meg/revoquer", {}, "Créer ou révoquer une clé d'API"),
    ("/libeo/configuration/utilisateurs", {"email": "paul@boulangerie-martin.fr"}, "Modifier les utilisateurs"),
    ("/libeo/configuration/approbations", {"threshold": "50"}, "Modifier les règles d'approbation"),
])
def test_keys_users_and_rules_ask_an_enrolled_person(admin, client, path, data, label):
    enrol_totp(client)
    asked = client.post(path, data=data)
    assert asked.status_code == 200
    assert "Confirmez votre identité" in text(asked) and label in text(asked)


def test_an_account_that_requires_it_refuses_a_person_not_enrolled(admin, client, libeo_app):
    payment_id = held_payment(admin, 1)
    with libeo_app.app_context():
        db.session.get(Account, admin.id).require_strong_auth = True
        db.session.commit()
    refused = client.post(f"/libeo/a-approuver/{payment_id}/approuver", follow_redirects=True)
    assert "Votre compte Libeo exige la double authentification" in text(refused)
    assert status(libeo_app, payment_id) is PaymentStatus.AWAITING_APPROVAL


def test_requiring_it_for_everyone_needs_ones_own_factor_first(admin, client, libeo_app):
    refused = client.post("/libeo/securite/exiger", data={"required": "1"}, follow_redirects=True)
    assert "Activez d'abord votre propre double authentification" in text(refused)
    secret = enrol_totp(client)
    asked = client.post("/libeo/securite/exiger", data={"required": "1"})
    done = client.post("/libeo/securite/exiger", data={"required": "1", "sca_challenge": challenge_of(asked),
                                                       "sca_code": code(secret)}, follow_redirects=True)
    assert "La double authentification est exigée pour tous les utilisateurs du compte." in text(done)
    with libeo_app.app_context():
        assert db.session.get(Account, admin.id).require_strong_auth is True
        assert "Double authentification exigée pour tous." in db.session.scalars(select(JournalEntry.message)).all()


def test_the_lost_factor_page_says_what_to_do_in_french(client):
    page = text(client.get("/libeo/securite/facteur-perdu"))
    assert "Utilisez un code de secours" in page and "Contactez le support de Libeo" in page


def test_removing_the_app_asks_for_it(admin, client, libeo_app):
    secret = enrol_totp(client)
    asked = client.post("/libeo/securite/application/retirer")
    assert "Modifier la double authentification" in text(asked)
    with libeo_app.app_context():
        assert db.session.scalar(select(TotpFactor.confirmed_at)) is not None
    client.post("/libeo/securite/application/retirer", data={"sca_challenge": challenge_of(asked),
                                                             "sca_code": code(secret)})
    with libeo_app.app_context():
        assert db.session.scalar(select(TotpFactor)) is None
        assert db.session.scalar(select(LibeoUser).where(LibeoUser.account_id == admin.id)) is not None


# --- passkeys: what a browser never sends ---------------------------------------------------------------

@pytest.mark.parametrize("credential", ["x", "{}", "[]", '{"id": "AAAA"}', "[" * 100_000])
def test_a_malformed_passkey_registration_is_refused_in_french(admin, client, libeo_app, credential):
    client.get("/libeo/securite/")  # the registration's challenge, kept in the session
    refused = client.post("/libeo/securite/cles-d-acces", data={"credential": credential, "name": "Clé"},
                          follow_redirects=True)
    assert refused.status_code == 200
    assert "La clé d'accès n'a pas pu être enregistrée : réessayez." in text(refused)
    with libeo_app.app_context():
        assert db.session.scalar(select(Passkey)) is None


@pytest.mark.parametrize("assertion", ["x", "[" * 100_000, '{"id": "AAAA"}', '{"id": "AAAA", "response": []}'])
def test_a_malformed_passkey_answer_is_refused_in_french(admin, client, libeo_app, assertion):
    """A step-up answered with a passkey assertion no browser would send (its id may be the person's own
    passkey's, listed on the verification page): refused in French, nothing approved."""
    enrol_totp(client)
    with libeo_app.app_context():
        user_id = db.session.scalar(select(LibeoUser.id).where(LibeoUser.email == admin.email))
        db.session.add(Passkey(user_id=user_id, credential_id="AAAA", public_key=b"\xa5\x01\x02", sign_count=0,
                               name="Clé de test"))
        db.session.commit()
    payment_id = held_payment(admin, 1)
    asked = client.post(f"/libeo/a-approuver/{payment_id}/approuver")
    refused = client.post(f"/libeo/a-approuver/{payment_id}/approuver",
                          data={"sca_challenge": challenge_of(asked), "sca_assertion": assertion})
    assert refused.status_code == 422
    assert "La clé d'accès n'a pas été acceptée : réessayez, ou saisissez un code" in text(refused)
    assert status(libeo_app, payment_id) is PaymentStatus.AWAITING_APPROVAL


def test_support_resets_a_persons_factors_once_no_recovery_code_is_left(admin, client, apps, libeo_app):
    enrol_totp(client)
    result = apps.root.test_cli_runner().invoke(args=["libeo", "reset-second-factor", "--email", admin.email])
    assert result.exit_code == 0, result.output
    assert "double authentification réinitialisée" in result.output
    with libeo_app.app_context():
        assert db.session.scalar(select(TotpFactor)) is None
        assert db.session.scalar(select(RecoveryCode)) is None
        assert "Double authentification de" in " ".join(db.session.scalars(select(JournalEntry.message)))
    # The person's sessions ended: signed in again, they keep the password-only flow until they enrol.
    assert client.get("/libeo/securite/").status_code == 302
    unknown = apps.root.test_cli_runner().invoke(args=["libeo", "reset-second-factor", "--email", "x@y.fr"])
    assert unknown.exit_code == 1 and "Aucun utilisateur Libeo n'a cette adresse e-mail." in unknown.output


def test_guessing_codes_is_stopped_after_twenty_unanswered_verifications(admin, client, libeo_app):
    secret = enrol_totp(client)
    payment_id = held_payment(admin, 1)
    asked = client.post(f"/libeo/a-approuver/{payment_id}/approuver")
    for _ in range(20):
        asked = client.post(f"/libeo/a-approuver/{payment_id}/approuver",
                            data={"sca_challenge": challenge_of(asked), "sca_code": "000000"})
    refused = client.post(f"/libeo/a-approuver/{payment_id}/approuver",
                          data={"sca_challenge": challenge_of(asked), "sca_code": code(secret)})
    assert refused.status_code == 422 and "Trop d'essais de vérification en peu de temps" in text(refused)
    assert status(libeo_app, payment_id) is PaymentStatus.AWAITING_APPROVAL
