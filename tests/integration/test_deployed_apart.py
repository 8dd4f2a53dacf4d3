"""each product alone (``gunicorn "app:create_meg_app()"``, ``… create_libeo_app()``).

Two gunicorns on two ports, two databases and instance folders, only
PUBLIC_URL, MEG_URL and LIBEO_URL to find each other; people use them as a
browser would (cookies, CSRF tokens), and the products talk over real sockets.
"""

from __future__ import annotations

import re

from sqlalchemy import text

from .deployment import WebClient

BOULANGERIE = {"company_name": "Boulangerie Martin SARL", "siret": "83451234500002", "terms": "y"}


def libeo_signup_and_key(libeo: WebClient) -> str:
    """The article's first path in Libeo: sign up, « Configuration » → « Intégrations » → « Se connecter »."""
    response = libeo.submit("/inscription", data={**BOULANGERIE, "email": "claire@boulangerie-martin.fr",
                                                  "password": "mot-de-passe-solide-42", "full_name": "Claire Martin"})
    assert "Le compte Libeo de Boulangerie Martin SARL est créé" in WebClient.text(response)
    page = libeo.submit("/configuration/integrations", "/configuration/integrations/meg")
    return re.search(r'id="meg-api-key">([^<]+)<', page.text).group(1)


def meg_login(meg: WebClient, email: str = "admin@boulangerie-martin.fr") -> None:
    response = meg.submit("/connexion", data={"email": email, "password": "demo-meg-2026"})
    assert response.url.endswith("/achats/"), WebClient.text(response)[:500]


def libeo_invoice_ids(deployment) -> list[tuple[int, str]]:
    engine = deployment.engine("meg")
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT i.id, i.number FROM supplier_invoice i JOIN company c ON c.id = i.company_id "
            "WHERE c.siret = '83451234500002' AND i.payment_mode = 'LIBEO' ORDER BY i.id"
        )).all()
    engine.dispose()
    return [(row.id, row.number) for row in rows]


def test_meg_alone_logs_in_with_its_csrf_protected_form(running):
    meg = running.client("meg")
    meg_login(meg)
    assert "Boulangerie Martin SARL" in WebClient.text(meg.get("/achats/reglements"))
    assert [cookie.path for cookie in meg.cookies] == ["/"]


def test_connect_pay_and_deliver_an_edit_deployed_apart(running):
    libeo, meg = running.client("libeo"), running.client("meg")
    key = libeo_signup_and_key(libeo)

    meg_login(meg)
    connected = meg.submit("/achats/options", data={"api_key": key})
    assert "La connexion est établie avec le compte Libeo « Boulangerie Martin SARL »" in WebClient.text(connected)

    (invoice_id, number), *_ = libeo_invoice_ids(running)
    paid = meg.submit("/achats/reglements", f"/achats/factures/{invoice_id}/payer", {"next": "/achats/reglements"})
    assert paid.status_code == 200
    assert number in WebClient.text(libeo.get("/paiements/"))

    # An edit of the paid invoice reaches Libeo through the queue, by the worker's command.
    edit = f"/achats/factures/{invoice_id}/modifier"
    form = WebClient.text(meg.get(edit))
    fields = {name: re.search(rf'name="{name}"[^>]*value="([^"]*)"', form).group(1)
              for name in ("issue_date", "due_date", "amount")}
    supplier = re.search(r'<option selected value="(\d+)"', form) or re.search(r'<option value="(\d+)" selected', form)
    edited = meg.submit(edit, data={**fields, "number": number + "-R", "supplier_id": supplier.group(1),
                                    "payment_mode": "LIBEO"})
    assert f"La facture {number}-R est modifiée" in WebClient.text(edited)
    assert number + "-R" not in WebClient.text(libeo.get("/factures/"))
    running.flask("meg", "meg", "sync")
    assert number + "-R" in WebClient.text(libeo.get("/factures/"))
