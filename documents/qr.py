"""QR codes drawn onto a reportlab canvas as one path.

reportlab's QrCodeWidget scores all eight masks in pure Python and draws one rectangle per
module (about 20 ms a code, more than a whole label). zxing-cpp encodes in C++ (about
0.6 ms for a tracking URL), and drawing every horizontal run of dark modules as one `re`
operator of a single path keeps the PDF side as cheap.
"""

from __future__ import annotations

import re

import zxingcpp
from reportlab.pdfgen.canvas import Canvas

QUIET_ZONE = 4  # modules of light margin that scanners need around the symbol
_DARK_RUN = re.compile(r"1+")
# A pixel as its module's bit: 0 (black) is dark, "1"; any other value light, "0".
_MODULE_BITS = bytes([ord("1")] + [ord("0")] * 255)


def qr_lines(data: str, ec_level: str = "M") -> list[str]:
    """The symbol without quiet zone as rows of "0"/"1", top row first, "1" dark."""
    barcode = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level=ec_level)
    image = memoryview(barcode.to_image(scale=1, add_quiet_zones=False))  # type: ignore[arg-type]
    height, width = image.shape or (0, 0)
    # zxing-cpp paints dark modules 0 (black) and light ones 255.
    bits = image.tobytes().translate(_MODULE_BITS).decode("ascii")
    return [bits[row * width : (row + 1) * width] for row in range(height)]


def draw_qr(canvas: Canvas, data: str, x: float, y: float, size: float) -> None:
    """Draw `data` as a QR code (level M) in the square (x, y, size, size).

    The square includes the 4-module quiet zone; only dark modules are painted.
    """
    lines = qr_lines(data)
    width = len(lines)
    module = size / (width + 2 * QUIET_ZONE)
    canvas.saveState()
    # Work in module units so every coordinate is a small integer: cheap to format, exact,
    # and without seams between neighbouring rectangles.
    canvas.translate(x + QUIET_ZONE * module, y + QUIET_ZONE * module)
    canvas.scale(module, module)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.addLiteral("\n".join(_runs(lines)) + "\nf")
    canvas.restoreState()


def _runs(lines: list[str]) -> list[str]:
    """Each horizontal run of dark modules as one `re` operator, in module units, rows
    counted from the bottom as PDF's y axis is."""
    top = len(lines) - 1
    return [
        f"{run.start()} {top - r} {run.end() - run.start()} 1 re"
        for r, line in enumerate(lines)
        for run in _DARK_RUN.finditer(line)
    ]
