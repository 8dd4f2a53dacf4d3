"""Files both products keep and serve: sizes as people read them, PDFs recognised by their bytes,
and every file kept for its owner's eyes only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

# What both sides accept for an invoice's file (MEG's import, Libeo's PUT …/document).
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


def size_label(size: int) -> str:
    """« 812 octets », « 45 Ko », « 2,3 Mo », « 10 Mo »."""
    if size < 1024:
        return f"{size} octets"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} Ko"
    megabytes = f"{size / (1024 * 1024):.1f}".removesuffix(".0")
    return f"{megabytes} Mo".replace(".", ",")


def looks_like_pdf(content: bytes) -> bool:
    """A PDF header in the first kilobyte (where readers look for it) and an end-of-file marker."""
    return b"%PDF-" in content[:1024] and b"%%EOF" in content[-2048:]


# --- files only their owner reads ---------------------------------------------------------------

# What the products' processes keep (databases and their WAL/SHM files, secrets, SEPA files,
# e-invoices) holds password hashes, IBANs and invoices: no other account of the machine reads it.
PRIVATE_UMASK = 0o077
# At most this many loose paths are named in the start-up warning (the rest are counted).
SHOWN_LOOSE_PATHS = 20


def keep_files_private() -> None:
    """Every file this process creates from now on is 0600 and every folder 0700, whatever umask it inherited.

    (The umask belongs to the process: a server or a command of either product
    starts with this, so SQLite's files, SEPA copies and libraries' files are
    covered alike.)
    """
    os.umask(PRIVATE_UMASK)


def private_folder(path: str | Path) -> Path:
    """The folder, created 0700 (with its parents) when missing."""
    folder = Path(path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def create_private_file(path: str | Path) -> None:
    """Creates the empty file 0600 if it does not exist (its later writers keep the mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)


def write_private_text(path: str | Path, text: str) -> None:
    """Writes a new file readable by its owner only, from its creation (no moment at 0644)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def loose_paths(roots: Iterable[str | Path], limit: int = 10_000) -> list[tuple[Path, int]]:
    """Files and folders under ``roots`` (each a folder or a file) that others than their owner may read,
    write or enter: (path, mode). Symbolic links are not followed; at most ``limit`` paths are looked at."""
    found: list[tuple[Path, int]] = []
    seen = 0
    for root in roots:
        for path in _walk(Path(root)):
            seen += 1
            if seen > limit:
                return found
            try:
                mode = stat.S_IMODE(path.lstat().st_mode)
            except OSError:
                continue
            if not path.is_symlink() and mode & 0o077:
                found.append((path, mode))
    return found


def _walk(root: Path) -> Iterable[Path]:
    if not root.exists() or root.is_symlink():
        return
    yield root
    if root.is_dir():
        for folder, names, files in os.walk(root):
            for name in sorted(names) + sorted(files):
                yield Path(folder) / name


def loose_paths_warning(roots: Iterable[str | Path]) -> str | None:
    """The start-up warning naming what others may read; None when everything is its owner's only."""
    loose = loose_paths(roots)
    if not loose:
        return None
    shown = ", ".join(f"{path} ({mode:04o})" for path, mode in loose[:SHOWN_LOOSE_PATHS])
    more = f" et {len(loose) - SHOWN_LOOSE_PATHS} autres" if len(loose) > SHOWN_LOOSE_PATHS else ""
    return (f"Fichiers ou dossiers ouverts à d'autres comptes que leur propriétaire : {shown}{more}. Ils peuvent "
            "contenir des empreintes de mots de passe, des IBAN et des factures : « chmod 600 » pour les fichiers, "
            "« chmod 700 » pour les dossiers.")
