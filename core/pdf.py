"""What both products' PDFs share: an embedded font that writes French, text it can draw, and the
styles, field tables and A4 page of their one-page documents.

ReportLab is imported when a document is drawn, never when the apps start."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

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


@dataclass(frozen=True)
class PageStyles:
    """The paragraph styles of the products' one-page documents (Vera 10 pt): text, a field's label,
    bold, the title and the small print at the foot."""

    base: Any
    label: Any
    strong: Any
    title: Any
    small: Any


def page_styles() -> PageStyles:
    """The fonts registered, and the styles every one-page document draws with."""
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    register_fonts()
    base = ParagraphStyle("base", fontName=FONT, fontSize=10, leading=14)
    return PageStyles(
        base=base,
        label=ParagraphStyle("label", parent=base, textColor=colors.HexColor("#555555")),
        strong=ParagraphStyle("strong", parent=base, fontName=FONT_BOLD),
        title=ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=18, leading=24),
        small=ParagraphStyle("small", parent=base, fontSize=8, leading=11, textColor=colors.HexColor("#555555")),
    )


def paragraph(text: str, style):
    """``text`` as a paragraph that prints it as typed (« <b> » and « & » are text, not markup)."""
    from reportlab.platypus import Paragraph

    return Paragraph(escape(drawable(text)), style)


def fields_table(rows: Sequence[tuple[str, Any]], styles: PageStyles, widths: tuple[float, float], padding: float):
    """One line per field: its label, then its value (a paragraph, or a list of them), a thin rule below."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table([[paragraph(name, styles.label), value] for name, value in rows], colWidths=list(widths))
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 10),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#CCCCCC")),
        ("TOPPADDING", (0, 0), (-1, -1), padding),
        ("BOTTOMPADDING", (0, 0), (-1, -1), padding),
    ]))
    return table


def a4_pdf(story: list, *, title: str, author: str) -> bytes:
    """``story`` drawn on A4 with 20 mm margins, in French, its fonts embedded."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    out = io.BytesIO()
    SimpleDocTemplate(
        out, pagesize=A4, initialFontName=FONT,
        leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm, bottomMargin=20 * mm,
        title=title, author=author, lang="fr-FR",
    ).build(story)
    return out.getvalue()
