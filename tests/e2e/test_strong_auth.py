"""Strong authentication in a browser: a passkey enrolled and used with Chromium's virtual authenticator
(DevTools' WebAuthn domain), an authentication app enrolled and used with the code it would show, and the
refusals a person can meet — an assertion replayed, one carried to another amount, a wrong code.

Passkeys need a secure context whose host is a domain: these pages are opened on « localhost », the same
live server as the other browser tests.
"""

from __future__ import annotations

import re
import time
from html import unescape

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.helpers import page_width, totp_code

from .test_approvals import LIBEO_EMAIL, LIBEO_PASSWORD, _libeo_account
from .test_meg_achats import log_in as meg_log_in


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "base_url": browser_context_args["base_url"].replace("127.0.0.1", "localhost")}


def _virtual_authenticator(page: Page) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True,
    }})


def _log_in(page: Page) -> None:
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(LIBEO_EMAIL)
    page.get_by_label("Mot de passe").fill(LIBEO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


def _held(page: Page, text: str):
    return page.get_by_role("region").filter(has_text=text)


def _read(response) -> str:
    return unescape(response.text()).replace("\u202f", " ").replace("\u00a0", " ")


def _no_sideways_scroll(page: Page) -> None:
    assert page_width(page) <= page.evaluate("window.innerWidth") + 1


def test_a_passkey_is_enrolled_then_approves_a_payment_bound_to_its_amount(page: Page, live_server):
    _libeo_account(live_server, held=True)
    _virtual_authenticator(page)
    _log_in(page)

    page.get_by_role("link", name="Sécurité").click()
    expect(page.get_by_role("heading", name="Sécurité", exact=True)).to_be_visible()
    page.get_by_label("Nom de la clé (facultatif)").fill("Ordinateur du bureau")
    page.get_by_role("button", name="Ajouter une clé d'accès").click()
    expect(page.get_by_role("heading", name="Vos codes de secours")).to_be_visible()
    expect(page.get_by_test_id("recovery-codes").get_by_role("listitem")).to_have_count(10)
    page.get_by_role("link", name="J'ai noté mes codes").click()
    expect(page.get_by_text("Ordinateur du bureau")).to_be_visible()

    page.goto("/libeo/a-approuver/")
    duplicate = _held(page, "Retenu : doublon possible")
    duplicate_url = duplicate.locator("form[action$='/approuver']").get_attribute("action")
    new_iban_url = _held(page, "MD-102").locator("form[action$='/approuver']").get_attribute("action")

    # The assertion for the 486,50 € payment is kept, not sent…
    kept = {}

    def keep(route):
        body = route.request.post_data or ""
        if "sca_assertion=%7B" in body:
            kept["body"] = body
            route.abort()
        else:
            route.continue_()

    page.route(f"**{duplicate_url}", keep)
    duplicate.get_by_role("button", name="Approuver").click()
    expect(page.get_by_role("heading", name="Confirmez votre identité")).to_be_visible()
    expect(page.get_by_test_id("step-up-lines")).to_contain_text("486,50 €")
    page.get_by_role("button", name="Utiliser ma clé d'accès").click()
    deadline = time.monotonic() + 20
    while "body" not in kept and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    page.unroute(f"**{duplicate_url}")
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    # … carried to the 512,00 € payment: refused, nothing approved.
    other = page.request.post(new_iban_url, data=kept["body"], headers=form)
    assert "L'opération a changé depuis la demande de vérification" in _read(other)
    # Sent for its own payment: approved.
    own = page.request.post(duplicate_url, data=kept["body"], headers=form)
    assert "approuvé : Programmé le" in _read(own)
    # Replayed: refused.
    replayed = page.request.post(duplicate_url, data=kept["body"], headers=form)
    assert "Cette vérification n'est plus valable" in _read(replayed)

    # The other payment, through the screens: the passkey confirms it.
    page.goto("/libeo/a-approuver/")
    _held(page, "MD-102").get_by_role("button", name="Approuver").click()
    expect(page.get_by_test_id("step-up-lines")).to_contain_text("512,00 €")
    page.get_by_role("button", name="Utiliser ma clé d'accès").click()
    expect(page.get_by_role("status").filter(has_text="approuvé : Programmé le")).to_contain_text("MD-102")
    expect(page.get_by_text("Aucun paiement à approuver.")).to_be_visible()


def test_an_authentication_app_is_enrolled_and_used_at_390_px_with_the_keyboard(page: Page, live_server):
    _libeo_account(live_server, held=True)
    page.set_viewport_size({"width": 390, "height": 844})
    _log_in(page)

    page.goto("/libeo/securite/")
    _no_sideways_scroll(page)
    page.get_by_role("button", name="Activer une application d'authentification").click()
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    _no_sideways_scroll(page)
    totp = pyotp.TOTP(secret)
    code_field = page.get_by_label("Code à 6 chiffres")
    expect(code_field).to_be_focused()
    page.keyboard.type("000000" if totp.now() != "000000" else "111111")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Code incorrect")
    page.get_by_label("Code à 6 chiffres").fill(totp_code(secret, -1, margin=10))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Vos codes de secours")).to_be_visible()
    codes = page.get_by_test_id("recovery-codes").inner_text().split()
    assert len(codes) == 10
    _no_sideways_scroll(page)

    page.goto("/libeo/a-approuver/")
    _held(page, "MD-102").get_by_role("button", name="Approuver").click()
    expect(page.get_by_role("heading", name="Confirmez votre identité")).to_be_visible()
    _no_sideways_scroll(page)
    expect(page.get_by_label("Code à 6 chiffres")).to_be_focused()
    used = totp.now()
    page.keyboard.type(used)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="approuvé : Programmé le")).to_contain_text("MD-102")

    # The same code again, for the other payment: refused (in its window, as already used).
    _held(page, "Retenu : doublon possible").get_by_role("button", name="Approuver").click()
    page.get_by_label("Code à 6 chiffres").fill(used)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("step-up-error")).to_contain_text(
        re.compile("Ce code a déjà servi|Code incorrect"))
    # A recovery code, through the keyboard: « Utiliser un code de secours » opens with Enter.
    page.get_by_text("Utiliser un code de secours").focus()
    page.keyboard.press("Enter")
    page.get_by_label("Code de secours").fill(codes[0])
    page.get_by_role("button", name="Confirmer avec ce code").click()
    expect(page.get_by_text("Aucun paiement à approuver.")).to_be_visible()


def test_a_meg_administrator_enrols_an_app_then_saves_the_libeo_key_with_its_code(page: Page, live_server):
    _, key = _libeo_account(live_server, held=False)
    meg_log_in(page, "admin@boulangerie-martin.fr")
    page.get_by_role("link", name="Sécurité").click()
    page.get_by_role("button", name="Activer une application d'authentification").click()
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code à 6 chiffres").fill(totp_code(secret, -1, margin=10))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("recovery-codes").get_by_role("listitem")).to_have_count(10)

    page.goto("/meg/achats/options")
    page.get_by_label("Clé d'api LIBEO").fill(key)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Saisissez le code de votre application d'authentification")).to_be_visible()
    page.get_by_label("Clé d'api LIBEO").fill(key)
    page.get_by_label("Code de double authentification").fill(totp.now())
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator(".flash").filter(has_text="La connexion est établie")).to_be_visible()
