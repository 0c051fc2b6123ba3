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


def test_one_path_not_one_rectangle_per_module() -> None:
    lines = qr.qr_lines("http://127.0.0.1:8000/track/" + "x" * 32)
    runs = qr._runs(lines)
    dark_modules = sum(line.count("1") for line in lines)
    # Horizontal runs are merged: fewer rectangles than dark modules, and each run covers
    # exactly the dark modules of its row segment.
    assert len(runs) < dark_modules
    assert sum(int(r.split()[2]) for r in runs) == dark_modules
