"""What both products' PDFs share: an embedded font that writes French, and text it can draw."""

from __future__ import annotations

FONT = "Vera"
FONT_BOLD = "Vera-Bold"
FONT_ITALIC = "Vera-Italic"

_registered = False


def register_fonts() -> None:
    """Registers Bitstream Vera, which ships inside ReportLab (nothing to install).

    Embedded, unlike the standard Helvetica, so a PDF looks the same
    everywhere and can be PDF/A; it has é, ç, œ, €, « », the bullet and the
    no-break space.
    """
    global _registered
    if _registered:
        return
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    files = {FONT: "Vera.ttf", FONT_BOLD: "VeraBd.ttf", FONT_ITALIC: "VeraIt.ttf", "Vera-BoldItalic": "VeraBI.ttf"}
    for name, file in files.items():
        pdfmetrics.registerFont(TTFont(name, file))
    addMapping(FONT, 0, 0, FONT)
    addMapping(FONT, 1, 0, FONT_BOLD)
    addMapping(FONT, 0, 1, FONT_ITALIC)
    addMapping(FONT, 1, 1, "Vera-BoldItalic")
    _registered = True


def drawable(text: str) -> str:
    """Text the font can draw: Vera has no narrow no-break space (U+202F, French
    thousands separator), the no-break space reads the same."""
    return text.replace("\u202f", "\u00a0")
