"""Supplier names keyed on their confusable skeleton

Revision ID: 0010_name_skeletons
Revises: 0009_key_retired
Create Date: 2026-12-04 18:30:00

Data only: ``known_supplier_iban.supplier_key`` is recomputed as
``core.names.name_key`` does at this revision (the UTS #39 skeleton of
``confusables.txt``, as confusable-homoglyphs 3.3.1 ships it, then anyascii;
a migration does not import the application's code, which will change).
Names in another script had an empty key, all alike; now each has its own.
Two rows of one supplier that end up with the same key and IBAN are one: the
earliest is kept (with a bank rejection either carried).

Downgrade leaves the keys as they are: the previous code reads them as
another spelling (its near-name search still finds most).
"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op
from anyascii import anyascii
from confusable_homoglyphs import confusables

# revision identifiers, used by Alembic.
revision = "0010_name_skeletons"
down_revision = "0009_key_retired"
branch_labels = None
depends_on = None

LEFT_OUT = ["sa", "sas", "sasu", "sarl", "eurl", "sci", "snc", "scs", "sca", "scop", "scp", "scm", "sel", "selarl",
            "selas", "earl", "gaec", "gie", "ei", "eirl", "ets", "etablissement", "etablissements", "societe", "ste",
            "cie", "compagnie", "de", "du", "des", "d", "la", "le", "les", "l", "et", "au", "aux"]
MARKS = str.maketrans("", "", "\u200e\u200f")


def _prototypes():
    data = {key.translate(MARKS): [entry["c"].translate(MARKS) for entry in entries]
            for key, entries in confusables.confusables_data.items()}
    mapping = {}
    for character, targets in data.items():
        if len(character) != 1 or len(targets) != 1 or targets[0] == character:
            continue
        target = targets[0]

        def preferred(text):
            return (not text.isascii(), len(text), text)

        if len(data.get(target, ())) == 1 and preferred(character) < preferred(target):
            continue
        mapping[character] = target
    return mapping


def _plain(text):
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _key_function():
    prototypes = _prototypes()

    def skeleton(name):
        decomposed = unicodedata.normalize("NFKD", name or "")
        latin = "".join(ch if ch.isascii() else prototypes.get(ch, ch) for ch in decomposed)
        mapped = "".join(prototypes.get(ch, ch) for ch in _plain(latin))
        return anyascii(_plain(mapped)).casefold()

    left_out = {skeleton(word) for word in LEFT_OUT}

    def key(name):
        words = re.findall(r"[0-9a-z]+", skeleton((name or "").replace("&", " et ")))
        kept = [word for word in words if word not in left_out]
        return " ".join(kept or words)[:200]

    return key


def upgrade():
    key = _key_function()
    bind = op.get_bind()
    table = sa.table("known_supplier_iban", sa.column("id", sa.Integer), sa.column("account_id", sa.Integer),
                     sa.column("supplier_key", sa.String), sa.column("supplier_name", sa.String),
                     sa.column("iban", sa.String), sa.column("rejected_reason", sa.String))
    rows = bind.execute(sa.select(table.c.id, table.c.account_id, table.c.supplier_name, table.c.iban,
                                  table.c.rejected_reason).order_by(table.c.id)).all()
    kept = {}
    for row in rows:
        new_key = key(row.supplier_name)
        same = (row.account_id, new_key, row.iban)
        if same in kept:
            first_id, first_reason = kept[same]
            if row.rejected_reason and not first_reason:
                bind.execute(table.update().where(table.c.id == first_id).values(rejected_reason=row.rejected_reason))
            bind.execute(table.delete().where(table.c.id == row.id))
            continue
        kept[same] = (row.id, row.rejected_reason)
    # Keys written once the duplicates are gone, through a placeholder of each row's own (« #id »):
    # the unique constraint never sees an old key equal to another row's new one.
    for row_id, _ in kept.values():
        bind.execute(table.update().where(table.c.id == row_id).values(supplier_key=f"#{row_id}"))
    for (_, new_key, _), (row_id, _) in kept.items():
        bind.execute(table.update().where(table.c.id == row_id).values(supplier_key=new_key))


def downgrade():
    pass
