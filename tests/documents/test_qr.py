"""QR codes: what draw_qr paints scans back to the text, for any text a label may carry."""

from __future__ import annotations

from io import BytesIO

import segno
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen.canvas import Canvas

from documents import qr
from tests.documents.barcodes import decode_barcodes


def page_with_qr(data: str) -> bytes:
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=letter, invariant=1)
    qr.draw_qr(canvas, data, 100, 400, 200)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def test_symbol_matches_an_independent_encoder() -> None:
    """Same text, same level: the smallest version an independent encoder (segno) picks,
    a square matrix, and a finder pattern in three corners."""
    url = "http://127.0.0.1:8000/track/abcdefghijklmnopqrstuvwxyz012345"
    lines = qr.qr_lines(url)
    width = len(lines)
    assert all(len(line) == width for line in lines)
    assert (width - 17) % 4 == 0  # a valid QR version size
    reference = segno.make(url, error="m", micro=False, boost_error=False)
    assert reference.symbol_size(border=0)[0] == width
    finder = ["1111111", "1000001", "1011101", "1011101", "1011101", "1000001", "1111111"]
    for row in range(7):
        assert lines[row][:7] == finder[row]
        assert lines[row][-7:] == finder[row]
        assert lines[width - 7 + row][:7] == finder[row]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=120)
)
def test_drawn_code_scans_back(text: str) -> None:
    assert ("QRCode", text) in decode_barcodes(page_with_qr(text))


def test_unicode_scans_back() -> None:
    for text in ("Zürich Straße 5", "http://x/track/ü"):
        assert ("QRCode", text) in decode_barcodes(page_with_qr(text))


def test_one_image_mask_bit_for_bit_the_symbol() -> None:
    """The symbol is painted as one inline image mask, not an operator per module: its
    hex rows, read back as bits, are the symbol's rows (dark "1"), padded to whole bytes."""
    lines = qr.qr_lines("http://127.0.0.1:8000/track/" + "x" * 32)
    width = len(lines)
    mask = qr.image_mask(lines)
    header, data = mask.split("\nID ", 1)
    assert header == f"BI /IM true /W {width} /H {width} /BPC 1 /D [1 0] /F /AHx"
    hexed, end = data.split(">", 1)
    assert end == "\nEI"
    row_hex = 2 * ((width + 7) // 8)
    rows = [hexed[i : i + row_hex] for i in range(0, len(hexed), row_hex)]
    assert [bin(int(r, 16))[2:].zfill(4 * row_hex)[:width] for r in rows] == lines
