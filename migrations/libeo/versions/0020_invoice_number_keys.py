"""Invoice numbers keyed however they are written: any script's dashes and spaces, full width, leading zeros

Revision ID: 0020_invoice_number_keys
Revises: 0019_name_skeletons_uts39
Create Date: 2026-12-06 10:30:00

Data only: ``invoice.number_key`` is recomputed as ``models.libeo.invoices.models.invoice_number_key`` does
at this revision (a migration does not import the application's code, which will change): compatibility
forms folded (NFKC) and case folded, only letters and digits kept, digits of any script as 0-9, each run of
digits without its leading zeros. « F–2026–001 » (en dashes), « F 2026 001 » (no-break spaces) and
« Ｆ-２０２６-００１ » are then found as « F-2026-001 » by the duplicate check, « FA-123 » as « FA-000123 ».

``number_key`` has no unique constraint (``ix_invoice_number_key`` is a plain index on the account and
the key; two invoices of an account may well carry one number, which is what the duplicate check looks
for), so rows are rekeyed in place, a thousand at a time, only those whose key changes.

Downgrade computes the keys again as the previous code does (lower case, without « -_./ » and spaces).
"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020_invoice_number_keys"
down_revision = "0019_name_skeletons_uts39"
branch_labels = None
depends_on = None

_BATCH = 1000
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")
_SEPARATORS = (" ", "-", "_", ".", "/")


def _number_key(number):
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", number or "").casefold())
    kept = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in folded if ch.isalnum())
    return _LEADING_ZEROS.sub("", kept)[:60]


def _previous_number_key(number):
    key = (number or "").lower()
    for separator in _SEPARATORS:
        key = key.replace(separator, "")
    return key[:60]


def _rekey(key):
    connection = op.get_bind()
    invoice = sa.table("invoice", sa.column("id", sa.Integer), sa.column("number", sa.String),
                       sa.column("number_key", sa.String))
    last = 0
    while True:
        rows = connection.execute(
            sa.select(invoice.c.id, invoice.c.number, invoice.c.number_key)
            .where(invoice.c.id > last).order_by(invoice.c.id).limit(_BATCH)
        ).all()
        if not rows:
            break
        keys = [(row.id, key(row.number), row.number_key) for row in rows]
        changed = [{"invoice_id": invoice_id, "key": new} for invoice_id, new, old in keys if new != old]
        if changed:
            connection.execute(invoice.update().where(invoice.c.id == sa.bindparam("invoice_id"))
                               .values(number_key=sa.bindparam("key")), changed)
        last = rows[-1].id


def upgrade():
    _rekey(_number_key)


def downgrade():
    _rekey(_previous_number_key)
