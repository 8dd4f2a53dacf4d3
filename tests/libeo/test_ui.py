"""Libeo in the browser: sign-up, login, « Factures », « Paiements », « Configuration »."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from core.calendar import earliest_execution_date
from core.dates import paris_today
from models.libeo import (
    Account,
    ApiKey,
    Channel,
    Invoice,
    LibeoUser,
    Payment,
    Plan,
    db,
)
from models.libeo.accounts.keys import hash_key
from models.libeo.payments.order import pay_invoice
from tests.conftest import build_apps
from tests.factories import initiator, libeo_invoice
from tests.helpers import BAD_INVOICE_FIELDS
from tests.helpers import page as text

from .conftest import (
    DEBTOR_IBAN,
    PASSWORD,
    SUPPLIER_IBAN,
    Api,
    count_queries,
    make_account,
    make_key,
    valid_siret,
)

SIGNUP = {
    "email": "Claire@Boulangerie-Martin.fr",
    "password": "pain-au-levain-2026",
    "company_name": "Boulangerie Martin SARL",
    "siret": "834 512 345 00002",
    "terms": "y",
}


def test_signup_creates_the_account_and_signs_in(client, libeo_app):
    form = text(client.get("/libeo/inscription"))
    for label in ("Adresse e-mail", "Mot de passe", "Nom de l'entreprise", "SIRET", "Créer mon compte"):
        assert label in form
    response = client.post("/libeo/inscription", data=SIGNUP, follow_redirects=True)
    page = text(response)
    assert "Le compte Libeo de Boulangerie Martin SARL est créé" in page
    for label in ("Factures", "Paiements", "Configuration"):
        assert f">{label}</a>" in page
    assert ("Abonnement</a>" in page) == ("billing.subscription" in libeo_app.view_functions)
    assert "0 / 5 paiements ce mois-ci" in page
    with libeo_app.app_context():
        account = db.session.scalar(select(Account))
        assert (account.siret, account.plan.label) == ("83451234500002", "Gratuit")
        assert account.users[0].email == "claire@boulangerie-martin.fr"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"siret": "83451234500003"}, "clé de contrôle incorrecte"),
        ({"siret": "8345123450000"}, "exactement 14 chiffres"),
        ({"siret": "ABCDEFGHIJKLMN"}, "exactement 14 chiffres"),
        ({"email": "pas-une-adresse"}, "adresse e-mail"),
        ({"password": "court"}, "au moins 10 caractères"),
        ({"password": "azertyuiop"}, "trop courant"),
        ({"company_name": "X" * 201}, "ne doit pas dépasser 200"),
        ({"company_name": "Boulangerie\u0007"}, "« Nom de l'entreprise » contient un caractère de contrôle"),
    ],
)
def test_bad_signup_is_refused_and_saves_nothing(client, libeo_app, change, message):
    response = client.post("/libeo/inscription", data={**SIGNUP, **change})
    assert response.status_code == 200
    assert message in text(response)
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count(Account.id))) == 0


def test_signup_says_every_problem_at_once(client, libeo_app):
    response = client.post("/libeo/inscription", data={
        **SIGNUP, "siret": "83451234500003", "email": "pas-une-adresse", "password": "court", "terms": ""})
    page = text(response)
    for message in ("clé de contrôle incorrecte", "Cette adresse e-mail n'est pas valide.",
                    "Le mot de passe doit comporter au moins 10 caractères.",
                    "Acceptez les conditions générales d'utilisation pour créer votre compte."):
        assert message in page, message
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count(Account.id))) == 0


def test_signup_says_both_the_siret_and_the_email_are_taken(client, libeo_app):
    client.post("/libeo/inscription", data=SIGNUP)
    client.post("/libeo/deconnexion")
    page = text(client.post("/libeo/inscription", data={**SIGNUP, "password": "court"}))
    for message in ("Un compte Libeo existe déjà pour ce SIRET", "Un compte Libeo utilise déjà cette adresse e-mail",
                    "au moins 10 caractères"):
        assert message in page, message


def test_the_terms_are_a_click_away_and_must_be_accepted(client, libeo_app):
    page = text(client.get("/libeo/inscription"))
    assert re.search(r"J'accepte les <a href=\"/libeo/conditions\"[^>]*>conditions générales d'utilisation</a>", page)
    terms = client.get("/libeo/conditions")
    assert terms.status_code == 200
    terms_page = text(terms)
    assert "<h1>Conditions générales d'utilisation de Libeo</h1>" in terms_page
    assert "9 € HT par mois (10,80 € TTC)" in terms_page
    refused = text(client.post("/libeo/inscription", data={k: v for k, v in SIGNUP.items() if k != "terms"}))
    assert "Acceptez les conditions générales d'utilisation pour créer votre compte." in refused
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count(Account.id))) == 0


def test_la_poste_siret_is_accepted(client, libeo_app):
    client.post("/libeo/inscription", data={**SIGNUP, "siret": "35600000049800"})
    with libeo_app.app_context():
        assert db.session.scalar(select(Account.siret)) == "35600000049800"


def test_one_account_per_siret_and_per_email(client, libeo_app):
    client.post("/libeo/inscription", data=SIGNUP)
    client.post("/libeo/deconnexion")
    same_siret = client.post("/libeo/inscription", data={**SIGNUP, "email": "autre@boulangerie.fr"})
    assert "Un compte Libeo existe déjà pour ce SIRET" in text(same_siret)
    same_email = client.post("/libeo/inscription", data={**SIGNUP, "siret": valid_siret(900)})
    assert "Un compte Libeo utilise déjà cette adresse e-mail" in text(same_email)
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count(Account.id))) == 1


def test_login_logout(client, libeo_app, libeo_auth, account):
    wrong = libeo_auth.login(account.email, "mauvais-mot-de-passe")
    assert "Adresse e-mail ou mot de passe incorrect." in text(wrong)
    assert client.get("/libeo/factures/").status_code == 302
    assert libeo_auth.login(account.email.upper()).status_code == 302
    assert client.get("/libeo/factures/").status_code == 200
    assert client.get("/libeo/deconnexion").status_code == 405  # logging out is a POST
    cookie = client.get_cookie("libeo_session", path="/libeo")
    libeo_auth.logout()
    assert client.get("/libeo/factures/").status_code == 302
    # The old session cookie no longer opens anything: the session token was rotated.
    client.set_cookie("libeo_session", cookie.value, path="/libeo")
    assert client.get("/libeo/factures/").status_code == 302


def test_login_next_is_never_an_open_redirect(client, account):
    response = client.post(
        "/libeo/connexion?next=https://evil.example/", data={"email": account.email, "password": PASSWORD}
    )
    assert response.headers["Location"].endswith("/libeo/factures/")


@pytest.mark.parametrize(
    "path",
    ["/libeo/factures/", "/libeo/factures/nouvelle", "/libeo/paiements/", "/libeo/configuration/",
     "/libeo/configuration/integrations", "/libeo/configuration/utilisateurs"],
)
def test_pages_need_a_signed_in_user(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/libeo/connexion" in response.headers["Location"]


def test_error_pages_are_french(client):
    response = client.get("/libeo/nulle-part")
    assert response.status_code == 404
    assert "Page introuvable" in text(response)


def test_forms_require_a_csrf_token(tmp_path, worker_id_safe):
    # This worker's databases: on PostgreSQL, another worker's would be dropped and made anew under it.
    apps = build_apps(tmp_path, worker_id_safe, libeo={"WTF_CSRF_ENABLED": True})
    info = make_account(apps.libeo)
    client = apps.root.test_client()
    response = client.post("/libeo/connexion", data={"email": info.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in text(response)
    page = text(client.get("/libeo/inscription"))
    assert 'name="csrf_token"' in page


# « Configuration »


def test_inviting_a_second_user_names_the_plan_limit(client, libeo_app, signed_in):
    page = text(client.get("/libeo/configuration/utilisateurs"))
    assert signed_in.email in page
    # No form that can only be refused: the limit, said before, with where to go instead.
    assert ">Inviter</button>" not in page
    assert ("Votre formule Gratuit inclut 1 utilisateur, déjà attribué : vous ne pouvez pas inviter d'autre "
            "utilisateur.") in page
    assert re.search(r'<a href="/libeo/configuration/expert-comptable">« Expert-comptable »</a>', page)
    if "billing.subscription" in libeo_app.view_functions:
        assert '<a href="/libeo/abonnement">voir les formules dans « Abonnement »</a>' in page
    response = client.post("/libeo/configuration/utilisateurs", data={"email": "associe@entreprise.fr"})
    assert "Votre formule Gratuit inclut 1 utilisateur" in text(response)
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count(LibeoUser.id))) == 1


def test_add_and_remove_the_accountant(client, libeo_app, signed_in):
    added = client.post(
        "/libeo/configuration/expert-comptable", data={"email": "Expert@Cabinet-Durand.fr"}, follow_redirects=True
    )
    assert "expert@cabinet-durand.fr a maintenant accès à votre compte" in text(added)
    assert "Retirer l'accès" in text(added)
    second = client.post("/libeo/configuration/expert-comptable", data={"email": "autre@cabinet.fr"})
    assert "1 accès expert-comptable" in text(second)
    with libeo_app.app_context():
        assert db.session.get(Account, signed_in.id).accountant_email == "expert@cabinet-durand.fr"
    removed = client.post("/libeo/configuration/expert-comptable/retirer", follow_redirects=True)
    assert "expert@cabinet-durand.fr n'a plus accès à votre compte." in text(removed)
    with libeo_app.app_context():
        assert db.session.get(Account, signed_in.id).accountant_email is None


def test_bank_account(client, libeo_app, signed_in):
    page = text(client.get("/libeo/configuration/"))
    assert "vos paiements restent « Programmé »" in page
    bad = client.post("/libeo/configuration/", data={"iban": "FR7630006000011234567890188", "bic": ""})
    assert "IBAN n'est pas valide" in text(bad)
    good = client.post("/libeo/configuration/", data={"iban": DEBTOR_IBAN.lower(), "bic": "bnpafrpp"},
                       follow_redirects=True)
    assert "Le compte bancaire est enregistré" in text(good)
    with libeo_app.app_context():
        account = db.session.get(Account, signed_in.id)
        assert (account.debtor_iban, account.debtor_bic) == (DEBTOR_IBAN, "BNPAFRPP")


def test_meg_card_creates_the_key_and_shows_it_once(client, libeo_app, signed_in):
    page = text(client.get("/libeo/configuration/integrations"))
    assert "Intégrations" in page and "MEG" in page and "Se connecter" in page
    response = client.post("/libeo/configuration/integrations/meg")
    page = text(response)
    key = re.search(r"lbo_meg_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", page).group(0)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Copier la clé" in page and 'data-copy-target="meg-api-key"' in page
    assert "Collez cette clé dans MEG : module « Achats » → roue crantée → « Options » → « Clé d'api LIBEO »" in page
    assert re.search(r'<script src="[^"]*/js/copy\.js"', page)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script (CSP)
    with libeo_app.app_context():
        stored = db.session.scalar(select(ApiKey))
        assert stored.key_hash == hash_key(key) and key not in stored.key_hash
    later = text(client.get("/libeo/configuration/integrations"))
    assert key not in later
    assert key[:20] in later  # the prefix
    assert "Créée le" in later and "Jamais" in later
    assert "Révoquer" in later and "Régénérer" in later
    assert Api(client, key).get("/me").status_code == 200
    assert "Jamais" not in text(client.get("/libeo/configuration/integrations"))


def test_regenerate_and_revoke(client, libeo_app, signed_in):
    first = re.search(r"lbo_meg_\S+?(?=<)", text(client.post("/libeo/configuration/integrations/meg"))).group(0)
    second = re.search(r"lbo_meg_\S+?(?=<)", text(client.post("/libeo/configuration/integrations/meg"))).group(0)
    assert first != second
    assert Api(client, first).get("/me").status_code == 401
    assert Api(client, second).get("/me").status_code == 200
    revoked = client.post("/libeo/configuration/integrations/meg/revoquer", follow_redirects=True)
    assert "La clé d'API MEG est révoquée" in text(revoked)
    assert "Se connecter" in text(revoked)
    assert Api(client, second).get("/me").status_code == 401


def test_copy_script_is_served(client):
    response = client.get("/libeo/static/js/copy.js")
    assert response.status_code == 200
    assert b"clipboard" in response.data


# « Factures » and « Paiements »

NEW_INVOICE = {
    "number": "LP-2026-77",
    "supplier_name": "Laiterie des Prés",
    "supplier_iban": SUPPLIER_IBAN,
    "supplier_bic": "",
    "issue_date": "2026-11-02",
    "due_date": "2026-12-02",
    "amount": "1 234,56",
}


def _new_invoice(client, **changes):
    return client.post("/libeo/factures/nouvelle", data={**NEW_INVOICE, **changes}, follow_redirects=True)


def test_create_invoice_in_libeo(client, libeo_app, signed_in):
    page = text(_new_invoice(client))
    assert "La facture LP-2026-77 est enregistrée." in page
    assert "1 234,56 €" in page
    listing = text(client.get("/libeo/factures/"))
    assert "Laiterie des Prés" in listing and "Libeo" in listing and "À payer" in listing
    with libeo_app.app_context():
        invoice = db.session.scalar(select(Invoice))
        assert (invoice.source.value, invoice.external_id, invoice.amount_cents) == ("Libeo", None, 123456)


@pytest.mark.parametrize(
    "change, message",
    [
        *BAD_INVOICE_FIELDS,
        ({"amount": "-5"}, "supérieur à zéro"),
        ({"supplier_iban": "FR76 3000 6000 0112 3456 7890 188"}, "IBAN n'est pas valide"),
        ({"supplier_bic": "XYZ"}, "BIC n'est pas valide"),
        ({"issue_date": "1999-01-01", "due_date": "1999-02-01"}, "entre 2000 et 2099"),
        ({"supplier_name": ""}, "Saisissez « Fournisseur »"),
        ({"supplier_name": "Laiterie\u202e"}, "caractères non autorisés"),
    ],
)
def test_bad_invoice_is_refused_and_saves_nothing(client, libeo_app, signed_in, change, message):
    response = client.post("/libeo/factures/nouvelle", data={**NEW_INVOICE, **change})
    assert message in text(response)
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count(Invoice.id))) == 0


def _invoice_id(libeo_app) -> int:
    with libeo_app.app_context():
        return db.session.scalar(select(Invoice.id).order_by(Invoice.id.desc()))


def test_pay_from_libeo_then_cancel(client, libeo_app, signed_in):
    _new_invoice(client)
    invoice_id = _invoice_id(libeo_app)
    detail = text(client.get(f"/libeo/factures/{invoice_id}"))
    assert "Payer" in detail and "Date d'exécution" in detail
    paid = text(client.post(f"/libeo/factures/{invoice_id}/payer", data={"execution_date": "2099-01-01"},
                            follow_redirects=True))
    assert "La date d'exécution du 01/01/2099 est à plus d'un an" in paid
    paid = text(client.post(f"/libeo/factures/{invoice_id}/payer", data={}, follow_redirects=True))
    assert "Saisissez une date valide" in paid
    today = _today()
    paid = text(client.post(f"/libeo/factures/{invoice_id}/payer", data={"execution_date": today},
                            follow_redirects=True))
    assert "Le paiement de la facture LP-2026-77 (1 234,56 €) est programmé" in paid
    scheduled = f"Programmé le {date.fromisoformat(today):%d/%m/%Y}"
    assert scheduled in paid
    assert "1 / 5 paiements ce mois-ci" in text(client.get("/libeo/factures/"))
    payments = text(client.get("/libeo/paiements/"))
    assert scheduled in payments and signed_in.email in payments and "via Libeo" in payments
    assert "membre de l'entreprise, via Libeo" in payments
    assert "ne sont pas exécutés tant que l'IBAN" in payments
    # What keeps it from leaving, in the row itself, in the words MEG shows too.
    waiting = "— en attente : aucun IBAN du compte à débiter"
    assert waiting in payments
    assert waiting in text(client.get("/libeo/factures/"))
    assert waiting in text(client.get(f"/libeo/factures/{invoice_id}"))
    with libeo_app.app_context():
        payment = db.session.scalar(select(Payment))
        assert (payment.channel.value, payment.initiated_by_role.value) == ("Libeo", "user")
    again = text(client.post(f"/libeo/factures/{invoice_id}/payer", data={"execution_date": today},
                             follow_redirects=True))
    assert "est déjà programmé" in again
    cancelled = text(client.post(f"/libeo/paiements/{payment.id}/annuler", follow_redirects=True))
    assert "Le paiement de la facture LP-2026-77 est annulé." in cancelled
    assert "Annulé" in cancelled
    with libeo_app.app_context():
        assert db.session.get(Invoice, invoice_id).status.value == "to_pay"


def test_sixth_payment_in_libeo_is_refused_with_upgrade_link(client, libeo_app, signed_in):
    for n in range(6):
        _new_invoice(client, number=f"F-{n}")
    with libeo_app.app_context():
        ids = db.session.scalars(select(Invoice.id).order_by(Invoice.id)).all()
    for invoice_id in ids[:5]:
        client.post(f"/libeo/factures/{invoice_id}/payer", data={"execution_date": _today()})
    refused = text(client.post(f"/libeo/factures/{ids[5]}/payer", data={"execution_date": _today()},
                               follow_redirects=True))
    assert "Votre formule Gratuit inclut 5 paiements par mois" in refused
    if "billing.subscription" in libeo_app.view_functions:
        assert "Passer à la formule Partnerships" in refused
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count(Payment.id))) == 5


def _today() -> str:
    """The first day a transfer asked for today can be executed."""
    return earliest_execution_date(paris_today()).isoformat()


def test_meg_invoices_show_their_source(client, libeo_app, signed_in):
    api = Api(client, make_key(libeo_app, signed_in.id))
    api.put(
        "/invoices/meg-1",
        json={"number": "MEG-1", "supplier": {"name": "Minoterie Dupuis", "iban": SUPPLIER_IBAN},
              "amount_cents": 100, "currency": "EUR", "issue_date": "2026-10-01", "due_date": "2026-10-02"},
    )
    assert "MEG-1" not in text(client.get("/libeo/factures/"))  # listed once paid through Libeo
    assert api.pay("meg-1").status_code == 201
    listing = text(client.get("/libeo/factures/"))
    assert re.search(r"MEG-1.*?Minoterie Dupuis.*?<span class=\"badge\">MEG</span>", listing, re.S)


def test_an_account_never_sees_another_accounts_data(client, libeo_app, libeo_auth, signed_in):
    _new_invoice(client, number="SECRET-1")
    invoice_id = _invoice_id(libeo_app)
    client.post(f"/libeo/factures/{invoice_id}/payer", data={"execution_date": _today()})
    client.post("/libeo/configuration/expert-comptable", data={"email": "expert@cabinet-secret.fr"})
    libeo_auth.logout()
    other = make_account(libeo_app)
    libeo_auth.login(other.email)
    with libeo_app.app_context():
        payment_id = db.session.scalar(select(Payment.id))
    assert client.get(f"/libeo/factures/{invoice_id}").status_code == 404
    assert client.post(f"/libeo/factures/{invoice_id}/payer", data={"execution_date": _today()}).status_code == 404
    assert client.post(f"/libeo/paiements/{payment_id}/annuler").status_code == 404
    for path in ("/libeo/factures/", "/libeo/paiements/", "/libeo/configuration/expert-comptable",
                 "/libeo/configuration/integrations"):
        assert "SECRET-1" not in text(client.get(path))
        assert "cabinet-secret" not in text(client.get(path))
    with libeo_app.app_context():
        assert db.session.get(Payment, payment_id).status.value == "scheduled"


def test_pages_run_a_constant_number_of_queries(client, libeo_app, signed_in):
    def add(n_from, n_to):
        with libeo_app.app_context():
            account = db.session.get(Account, signed_in.id)
            account.plan = Plan.PARTNERSHIPS
            for n in range(n_from, n_to):
                invoice = libeo_invoice(account, f"F-{n}", supplier_name=f"Fournisseur {n}",
                                        issue_date=date(2026, 10, 1), due_date=date(2026, 10, 31), amount_cents=100 + n)
                pay_invoice(account, invoice, initiator("a@b.fr", channel=Channel.LIBEO))
            db.session.commit()
            return invoice.id

    last = add(0, 2)
    few = {p: count_queries(libeo_app, client, p) for p in ("/libeo/factures/", "/libeo/paiements/",
                                                        f"/libeo/factures/{last}")}
    last = add(2, 40)
    many = {p: count_queries(libeo_app, client, p) for p in ("/libeo/factures/", "/libeo/paiements/",
                                                         f"/libeo/factures/{last}")}
    assert list(few.values()) == list(many.values()), (few, many)
