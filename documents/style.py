"""The look every A4/Letter document shares (packing slips, certificates): the palette, and
how their pages are written."""

from __future__ import annotations

from reportlab.lib import colors

# Uncompressed: reportlab's pure-Python ASCII85 step costs a third of a render, and the
# bytes (stored by SHA-256) cannot change between zlib builds.
PAGE_COMPRESSION = 0

INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#5f6368")
RULE = colors.HexColor("#c8c8c8")
HEADER_FILL = colors.HexColor("#e8eaed")
STRIPE = colors.HexColor("#f6f7f8")
