"""Supplier names keyed as UTS #39 maps them, a name spelt letter by letter as one word

Revision ID: 0019_name_skeletons_uts39
Revises: 0018_bank_bookings
Create Date: 2026-12-06 09:40:00

Data only: ``known_supplier_iban.supplier_key`` is recomputed as ``core.names.name_key`` does at this
revision (a migration does not import the application's code, which will change):
- each character goes to its confusable prototype before the compatibility decomposition too (the lunate
  sigma « Ϲ », a « C », decomposed to « Σ » first, so that « ΑϹΜΕ » was not « ACME »);
- « i » and « l » are one letter once case is folded (the capital « I » is the small « l »: « lBM »);
- two single letters or more in a row are one word (« E.D.F. » is « edf », as « EDF »).
Two rows of one supplier that end up with the same key and IBAN are one: the earliest is kept (with a bank
rejection either carried).

Downgrade leaves the keys as they are: the previous code reads them as another spelling (its near-name
search still finds most).
"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op
from anyascii import anyascii
from confusable_homoglyphs import confusables

# revision identifiers, used by Alembic.
revision = "0019_name_skeletons_uts39"
down_revision = "0018_bank_bookings"
branch_labels = None
depends_on = None

LEGAL_FORMS = ["sa", "sas", "sasu", "sarl", "eurl", "sci", "snc", "scs", "sca", "scop", "scp", "scm", "sel",
               "selarl", "selas", "earl", "gaec", "gie", "ei", "eirl", "ets", "etablissement", "etablissements",
               "societe", "ste", "cie", "compagnie"]
ARTICLES = ["de", "du", "des", "d", "la", "le", "les", "l", "et", "au", "aux"]

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
        canonical = unicodedata.normalize("NFD", name or "")
        first = "".join(ch if ch.isascii() else prototypes.get(ch, ch) for ch in canonical)
        decomposed = unicodedata.normalize("NFKD", first)
        latin = "".join(ch if ch.isascii() else prototypes.get(ch, ch) for ch in decomposed)
        mapped = "".join(prototypes.get(ch, ch) for ch in _plain(latin))
        return anyascii(_plain(mapped)).casefold().replace("i", "l")

    def all_words(name):
        words = re.findall(r"[0-9a-z]+", skeleton((name or "").replace("&", " et ")))
        merged, run = [], []
        for word in [*words, ""]:
            if len(word) == 1:
                run.append(word)
                continue
            merged.extend(["".join(run)] if len(run) > 1 else run)
            run = []
            if word:
                merged.append(word)
        return merged

    forms = {skeleton(word) for word in LEGAL_FORMS}
    articles = {skeleton(word) for word in ARTICLES}

    def key(name):
        words = all_words(name)
        last = len(words) - 1
        kept = [word for i, word in enumerate(words) if word not in forms and not (word in articles and i < last)]
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
