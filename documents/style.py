"""The look every A4/Letter document shares: the palette (packing slips, certificates) and,
for the certificates, laid out with platypus, base text styles, table cells, and how text is
made safe for platypus."""

from __future__ import annotations

from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle

# Uncompressed: reportlab's pure-Python ASCII85 step costs a third of a render, and the
# bytes (stored by SHA-256) cannot change between zlib builds.
PAGE_COMPRESSION = 0
FRAME_PADDING = 6  # platypus frames pad their content by this much on every side

INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#5f6368")
RULE = colors.HexColor("#c8c8c8")
HEADER_FILL = colors.HexColor("#e8eaed")
STRIPE = colors.HexColor("#f6f7f8")

BASE = ParagraphStyle("base", fontName="Helvetica", fontSize=10, leading=13, textColor=INK)
CELL = ParagraphStyle("cell", BASE, fontSize=9, leading=11.5)
CELL_HEAD = ParagraphStyle("cell_head", CELL, fontName="Helvetica-Bold")
CELL_NUMBER = ParagraphStyle("cell_number", CELL, alignment=TA_RIGHT)
CELL_NUMBER_HEAD = ParagraphStyle("cell_number_head", CELL_HEAD, alignment=TA_RIGHT)


def text(value: str) -> str:
    """Plain text for a Paragraph, whose markup is XML-like."""
    return escape(value)
