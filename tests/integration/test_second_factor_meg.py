"""MEG « Achats » administrators' authentication app: once enrolled, saving or deleting the Libeo key in
« Options » asks for its code (or a recovery code); a wrong code, or one used already in its window, is
refused in French and nothing is saved nor deleted. An administrator who never enrolled keeps today's
flow (``conftest.connected`` pastes a key without a code)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from sqlalchemy import func, select, update

from models.meg import LibeoConnection, MegRecoveryCode, MegSecondFactorRefusal, MegTotpFactor
from models.meg import db as meg_db
from tests.helpers import totp_code as code

from .conftest import libeo_account


def text(response) -> str:
    return unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\u00a0", " ")



def enrol(client) -> tuple[str, list[str]]:
    assert client.post("/meg/securite/application").status_code == 302
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<',
                       text(client.get("/meg/securite/application"))).group(1).replace(" ", "")
    wrong = client.post("/meg/securite/application/confirmer", data={"code": "12345"})
    assert wrong.status_code == 422 and "Code incorrect" in text(wrong)
    done = client.post("/meg/securite/application/confirmer", data={"code": code(secret, -1)})
    codes = re.findall(r"<li>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</li>", done.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def connection(meg_app):
    with meg_app.app_context():
        return meg_db.session.scalar(select(LibeoConnection))


def test_an_enrolled_administrator_saves_the_key_with_a_code_only(client, demo, meg_auth, meg_app, libeo_app):
    _, key = libeo_account(libeo_app)
    meg_auth.login()
    secret, codes = enrol(client)
    with meg_app.app_context():
        assert secret not in meg_db.session.scalar(select(MegTotpFactor.secret))
        assert not any(c in h for c in codes for h in meg_db.session.scalars(select(MegRecoveryCode.code_hash)))
    options = text(client.get("/meg/achats/options"))
    assert "Code de double authentification" in options

    missing = client.post("/meg/achats/options", data={"api_key": key})
    assert missing.status_code == 422
    assert "Saisissez le code de votre application d'authentification" in text(missing)
    good = code(secret)
    wrong = client.post("/meg/achats/options", data={"api_key": key, "second_factor": f"{(int(good) + 1) % 10**6:06d}"})
    assert wrong.status_code == 422 and "Code incorrect" in text(wrong)
    assert connection(meg_app) is None

    saved = client.post("/meg/achats/options", data={"api_key": key, "second_factor": good}, follow_redirects=True)
    assert "La connexion est établie" in text(saved)
    assert connection(meg_app) is not None

    # Deleting it: the same code again is refused in its window; a recovery code passes, once.
    replayed = client.post("/meg/achats/options/libeo/supprimer", data={"second_factor": good})
    assert replayed.status_code == 422 and "Ce code a déjà servi" in text(replayed)
    assert not connection(meg_app).is_removed
    deleted = client.post("/meg/achats/options/libeo/supprimer", data={"second_factor": codes[0]},
                          follow_redirects=True)
    assert "La connexion à Libeo est supprimée" in text(deleted)
    assert connection(meg_app).is_removed
    again = client.post("/meg/achats/options", data={"api_key": key, "second_factor": codes[0]})
    assert again.status_code == 422 and "Ce code de secours n'est pas valable, ou il a déjà servi" in text(again)


def test_an_administrator_who_never_enrolled_keeps_todays_flow(connected, client, meg_app):
    assert "Code de double authentification" not in text(client.get("/meg/achats/options"))
    assert connection(meg_app) is not None


def test_guessing_codes_stops_after_twenty_refusals_in_a_quarter_of_an_hour(client, demo, meg_auth, meg_app,
                                                                             libeo_app):
    """As in Libeo: 20 refused codes in 15 minutes, then every code is refused (in French), even a right one or
    a recovery code, and nothing is saved, until the quarter of an hour has passed."""
    _, key = libeo_account(libeo_app)
    meg_auth.login()
    secret, codes = enrol(client)
    for _ in range(20):
        good = code(secret)
        wrong = client.post("/meg/achats/options",
                            data={"api_key": key, "second_factor": f"{(int(good) + 1) % 10**6:06d}"})
        assert wrong.status_code == 422 and "Code incorrect" in text(wrong)
    for answer in (code(secret), codes[0]):
        refused = client.post("/meg/achats/options", data={"api_key": key, "second_factor": answer})
        assert refused.status_code == 422
        assert "Trop d'essais de vérification en peu de temps : rien n'a été fait." in text(refused)
    assert connection(meg_app) is None
    with meg_app.app_context():
        assert meg_db.session.scalar(select(func.count(MegSecondFactorRefusal.id))) == 20
        # A quarter of an hour later, the right code passes (the recovery code was not spent).
        meg_db.session.execute(update(MegSecondFactorRefusal).values(
            refused_at=MegSecondFactorRefusal.refused_at - timedelta(minutes=16)))
        meg_db.session.commit()
    saved = client.post("/meg/achats/options", data={"api_key": key, "second_factor": codes[0]},
                        follow_redirects=True)
    assert "La connexion est établie" in text(saved)
    assert connection(meg_app) is not None


def _in_other_digits(code_: str, zero: str) -> str:
    """The same code in another script's digits (full-width, as a Japanese keyboard types them; Arabic-Indic)."""
    return "".join(chr(ord(zero) + int(digit)) for digit in code_)


def test_a_code_typed_in_other_digits_is_refused_in_french(client, demo, meg_auth, meg_app, libeo_app):
    """Only the digits 0 to 9 make a code: the same six in full-width or Arabic-Indic digits are a wrong code,
    refused in French, and nothing is activated nor saved."""
    _, key = libeo_account(libeo_app)
    meg_auth.login()
    assert client.post("/meg/securite/application").status_code == 302
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<',
                       text(client.get("/meg/securite/application"))).group(1).replace(" ", "")
    for zero in ("\uff10", "\u0660"):
        refused = client.post("/meg/securite/application/confirmer",
                              data={"code": _in_other_digits(code(secret), zero)})
        assert refused.status_code == 422 and "Code incorrect : saisissez les 6 chiffres" in text(refused)
    with meg_app.app_context():
        assert meg_db.session.scalar(select(MegTotpFactor.confirmed_at)) is None
    secret, _ = enrol(client)
    for zero in ("\uff10", "\u0660"):
        refused = client.post("/meg/achats/options",
                              data={"api_key": key, "second_factor": _in_other_digits(code(secret), zero)})
        assert refused.status_code == 422 and "Code incorrect : saisissez les 6 chiffres" in text(refused)
    assert connection(meg_app) is None
