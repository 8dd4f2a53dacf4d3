"""MEG's demo data: the acceptance checks log in with it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TypedDict

from sqlalchemy import select

from core.dates import paris_today, utcnow
from models.meg.achats.models import PaymentMode, Supplier, SupplierInvoice
from models.meg.companies.models import (
    AccountingFirm,
    AchatsRole,
    Company,
    ModuleRole,
    User,
)
from models.meg.db import db

DEMO_PASSWORD = "demo-meg-2026"


class CompanySpec(TypedDict):
    name: str
    siret: str | None
    users: list[tuple[str, str, AchatsRole]]  # email, full name, role
    suppliers: list[tuple[str, str, str]]  # name, IBAN, BIC


COMPANIES: list[CompanySpec] = [
    {
        "name": "Boulangerie Martin SARL",
        "siret": "83451234500002",
        "users": [
            ("admin@boulangerie-martin.fr", "Claire Martin", AchatsRole.ADMIN),
            ("compta@boulangerie-martin.fr", "Julien Petit", AchatsRole.USER),
        ],
        "suppliers": [
            ("Minoterie Dupuis", "FR7630006000010000000791963", "AGRIFRPPXXX"),
            ("Laiterie des Prés", "FR7630004008220000001583859", "BNPAFRPP"),
            ("EDF Entreprises", "FR7610278060390000002375705", "CMCIFR2A"),
            ("Emballages Roux", "FR7630003029000000003167634", "SOGEFRPP"),
        ],
    },
    {
        "name": "Garage Leroy SAS",
        "siret": "85123456700002",
        "users": [("gerant@garage-leroy.fr", "Marc Leroy", AchatsRole.ADMIN)],
        "suppliers": [
            ("Pièces Auto Distribution", "FR7617515900000000003959541", "CEPAFRPPXXX"),
            ("Pneus Bernard", "FR7630002005500000004751481", "CRLYFRPPXXX"),
            ("Huiles & Lubrifiants Sud", "FR7616606100080000005543350", "AGRIFRPP866"),
            ("Outillage Moreau", "FR7620041010050000006335211", "PSSTFRPP"),
        ],
    },
    {
        "name": "Association Les Amis du Quartier",
        "siret": None,
        "users": [("president@amis-du-quartier.fr", "Sophie Garnier", AchatsRole.ADMIN)],
        "suppliers": [
            ("Imprimerie du Centre", "FR7630006000010000007127130", "AGRIFRPPXXX"),
            ("Traiteur Lambert", "FR7630004008220000007919026", "BNPAFRPP"),
            ("Location Salles Municipales", "FR7610278060390000008710969", "CMCIFR2A"),
            ("Papeterie Fournier", "FR7630003029000000009502801", "SOGEFRPP"),
        ],
    },
]

ACCOUNTANT = ("expert@cabinet-durand.fr", "Hélène Durand", "Cabinet Durand Expertise")

# (supplier index, amount in cents, days before today issued, days to due, mode, paid)
INVOICES = [
    (0, 48_650, 20, 30, PaymentMode.LIBEO, False),
    (1, 12_380, 15, 30, PaymentMode.LIBEO, False),
    (2, 231_475, 10, 45, PaymentMode.LIBEO, False),
    (3, 7_990, 8, 30, PaymentMode.LIBEO, False),
    (0, 95_000, 40, 30, PaymentMode.VIREMENT, False),
    (1, 3_450, 35, 15, PaymentMode.CHEQUE, False),
    (2, 18_900, 60, 30, PaymentMode.PRELEVEMENT, True),
    (3, 2_599, 5, 0, PaymentMode.CARTE, False),
    (0, 1_250, 3, 0, PaymentMode.ESPECES, True),
]


def demo_data_exists() -> bool:
    return db.session.scalar(select(User.id).limit(1)) is not None


def create_demo_data(today: date | None = None) -> None:
    """Creates the demo companies, users, suppliers and invoices (once), dated from today in Paris."""
    today = today or paris_today()
    firm = AccountingFirm(name=ACCOUNTANT[2])
    db.session.add(firm)
    for spec in COMPANIES:
        # Created with their expert-comptable, who vouches for their SIRET.
        company = Company(name=spec["name"], siret=spec["siret"], accounting_firm=firm,
                          siret_trusted_by=f"l'expert-comptable {ACCOUNTANT[1]} ({ACCOUNTANT[0]})" if spec["siret"]
                          else None, siret_trusted_at=utcnow() if spec["siret"] else None)
        db.session.add(company)
        for email, name, role in spec["users"]:
            user = User(email=email, full_name=name)
            user.set_password(DEMO_PASSWORD)
            db.session.add(user)
            db.session.add(ModuleRole(user=user, company=company, module="achats", role=role))
        suppliers = [Supplier(company=company, name=n, iban=iban, bic=bic) for n, iban, bic in spec["suppliers"]]
        db.session.add_all(suppliers)
        prefix = "".join(word[0] for word in spec["name"].split()[:2]).upper()
        for k, (supplier_index, cents, ago, due_in, mode, paid) in enumerate(INVOICES, start=1):
            issued = today - timedelta(days=ago)
            db.session.add(
                SupplierInvoice(
                    company=company,
                    supplier=suppliers[supplier_index],
                    number=f"F-{prefix}-{today.year}-{k:03d}",
                    issue_date=issued,
                    due_date=issued + timedelta(days=due_in),
                    amount_cents=cents,
                    payment_mode=mode,
                    paid_at=utcnow() if paid else None,
                )
            )
    email, name, _ = ACCOUNTANT
    accountant = User(email=email, full_name=name, accounting_firm=firm)
    accountant.set_password(DEMO_PASSWORD)
    db.session.add(accountant)
    db.session.commit()


DEMO_LOGINS = [(u[0], u[2].value) for c in COMPANIES for u in c["users"]] + [(ACCOUNTANT[0], "expert-comptable")]
