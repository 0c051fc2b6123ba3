"""Decode the barcodes printed on a PDF page, as a scanner would see them.

from tests.documents.barcodes import decode_barcodes
assert ("Code128", tracking_number) in decode_barcodes(pdf_bytes)
"""

from __future__ import annotations

import threading

import pypdfium2 as pdfium
import zxingcpp

DPI = 300  # a label printer is 203 or 300 dpi; 300 keeps 1.2 pt bars at 5 px

# pdfium is not thread-safe; tests that render from several threads share this.
PDFIUM = threading.Lock()


def decode_barcodes(pdf_bytes: bytes, page: int = 0, dpi: int = DPI) -> list[tuple[str, str]]:
    """(format, text) of every barcode on one page (the first by default), sorted.

    Formats are zxing-cpp's names: "Code128", "QRCode", ...
    """
    with PDFIUM:
        document = pdfium.PdfDocument(pdf_bytes)
        try:
            rendered = document[page].render(scale=dpi / 72)
            # Grayscale copy: independent of pdfium's buffer, and what a scanner sees.
            image = rendered.to_pil().convert("L")
        finally:
            document.close()
    return sorted((result.format.name, result.text) for result in zxingcpp.read_barcodes(image))
