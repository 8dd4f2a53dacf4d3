"""Makes the SQL dumps of this folder: both databases as release 1 (commit 905ffa9) left them.

Run with release 1's code (``git worktree add /tmp/r1 905ffa9``, then from
there ``python tests/data/release_1/make_snapshot.py OUT_DIR``): demo data,
Boulangerie Martin connected with a key pasted in « Options », two invoices
paid through « Payer » and executed (a SEPA file), one edited afterwards
(a queued update). The upgrade test loads these dumps, as a real installation
of release 1 would be found, and upgrades them in place.
"""

from __future__ import annotations

import sqlite3
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from conftest import MegAuth, build_apps  # noqa: E402


def main(out: Path) -> None:
    from sqlalchemy import select

    from models.libeo import db as libeo_db
    from models.libeo.accounts.keys import issue_meg_api_key
    from models.libeo.accounts.services import create_account, set_bank_account
    from models.libeo.payments.sepa import execute_due_payments
    from models.meg import SupplierInvoice
    from models.meg import db as meg_db
    from models.meg.achats.models import PaymentMode
    from models.meg.demo import create_demo_data

    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    apps = build_apps(work)
    with apps.meg.app_context():
        create_demo_data()
    with apps.libeo.app_context():
        account = create_account("Boulangerie Martin SARL", "83451234500002", "claire@boulangerie-martin.fr",
                                 "mot-de-passe-solide-42", full_name="Claire Martin")
        set_bank_account(account, "FR7630006000011234567890189", None)
        libeo_db.session.commit()
        key = issue_meg_api_key(account)
        libeo_db.session.commit()
    client = apps.root.test_client()
    MegAuth(client).login("admin@boulangerie-martin.fr")
    assert client.post("/meg/achats/options", data={"api_key": key}).status_code == 302
    with apps.meg.app_context():
        invoices = meg_db.session.scalars(
            select(SupplierInvoice.id).where(SupplierInvoice.payment_mode == PaymentMode.LIBEO,
                                             SupplierInvoice.paid_at.is_(None)).order_by(SupplierInvoice.id)
        ).all()
    for invoice_id in invoices[:2]:
        client.post(f"/meg/achats/factures/{invoice_id}/payer", data={})
    with apps.libeo.app_context():
        execute_due_payments(work / "sepa", date.today())
    client.post(f"/meg/achats/factures/{invoices[2]}/payer", data={})
    with apps.meg.app_context():
        edited = meg_db.session.get(SupplierInvoice, invoices[2])
        fields = {"number": edited.number + "-B", "supplier_id": edited.supplier_id,
                  "issue_date": edited.issue_date.isoformat(), "due_date": edited.due_date.isoformat(),
                  "amount": f"{edited.amount_cents / 100:.2f}".replace(".", ","), "payment_mode": "LIBEO"}
    assert client.post(f"/meg/achats/factures/{invoices[2]}/modifier", data=fields).status_code == 302
    for side in ("meg", "libeo"):
        connection = sqlite3.connect(work / f"{side}.sqlite3")
        (out / f"{side}.sql").write_text("\n".join(connection.iterdump()) + "\n")
        connection.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
