"""Files both products keep and serve: sizes as people read them, PDFs recognised by their bytes."""

from __future__ import annotations

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
