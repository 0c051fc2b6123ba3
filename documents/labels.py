"""4x6 in parcel labels (return and shipping): carrier, addresses, Code 128, QR.

A label is rendered per shipment, so this renderer is tuned for speed: with
reportlab in pure Python (no rl_accel), every canvas call costs float
formatting and bookkeeping, which made text alone cost more than the bare
page. So the fixed parts are PDF operators written once, the text goes out
as one BT/ET block, and the barcode and QR code are each one path in their
own module units (see documents/qr.py). Same input, same bytes (invariant=1,
fixed metadata, no clock).
"""

from __future__ import annotations

from io import BytesIO

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas

from documents.pdftext import BOLD, REGULAR, Text, encode, wrap
from documents.qr import draw_qr
from documents.style import ENGLISH, N_, Words, _, speaking
from domain.common import Address
from domain.documents import LabelData

PAGE_WIDTH, PAGE_HEIGHT = 4 * inch, 6 * inch
MARGIN = 10.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
BAR_WIDTH = 1.2  # pt per module: ~3.4 dots at 203 dpi, 5 px at 300 dpi
BAR_HEIGHT = 60.0
MIN_BAR_WIDTH = 0.8  # below this, thermal printers blur the narrowest bars
BARCODE_QUIET = 10  # modules of light margin either side, as ISO 15417 asks
QR_SIZE = 1.3 * inch

# Uncompressed (~7 KB a label): reportlab compresses through a pure Python
# ASCII85 step that cost ~30 % of the render, and without zlib the bytes cannot
# drift between zlib builds (zlib-ng deflates differently), which stored
# SHA-256s rely on.
PAGE_COMPRESSION = 0

# Section boundaries, top down (y grows upwards in PDF).
HEADER_BOTTOM = 386.0
FROM_BOTTOM = 318.0
TO_BOTTOM = 226.0
BARCODE_BOTTOM = 126.0

RETURN_INSTRUCTIONS = N_(
    "Attach this label to the outside of the parcel. Remove or cover any old labels and barcodes."
)

# The border and section rules, the same on every label.
FRAME = "q 1.5 w 4 4 {:.2f} {:.2f} re S 1 w {} Q".format(
    PAGE_WIDTH - 8,
    PAGE_HEIGHT - 8,
    " ".join(
        f"4 {y:.2f} m {PAGE_WIDTH - 4:.2f} {y:.2f} l S"
        for y in (HEADER_BOTTOM, FROM_BOTTOM, TO_BOTTOM, BARCODE_BOTTOM)
    ),
)


def render_label(data: LabelData, words: Words = ENGLISH) -> bytes:
    """The label as a one-page PDF, 288 x 432 pt (4x6 in whatever the retailer's paper), in
    `words` (English by default)."""
    with speaking(words):
        return _label(data)


def _label(data: LabelData) -> bytes:
    buffer = BytesIO()
    canvas = Canvas(
        buffer, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), invariant=1, pageCompression=PAGE_COMPRESSION
    )
    title = _("RETURN LABEL") if data.kind == "return_label" else _("SHIPPING LABEL")
    canvas.setTitle(f"{title.title()} {data.tracking_number}")
    canvas.setAuthor("aftersales")
    canvas.setCreator("aftersales")
    canvas.setSubject(f"RMA/CASE {data.case_number}")

    text = Text(canvas)
    canvas.addLiteral(FRAME)
    _header(text, title, data)
    _address(
        text,
        _("FROM"),
        data.from_address,
        top=HEADER_BOTTOM,
        size=8,
        name_size=9,
        leading=9.6,
        indent=0,
    )
    _address(
        text,
        _("SHIP TO"),
        data.to_address,
        top=FROM_BOTTOM,
        size=11,
        name_size=13,
        leading=13.5,
        indent=14,
    )
    _tracking(canvas, text, data.tracking_number)
    _footer(canvas, text, data)
    text.draw()

    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def draw_code128(
    canvas: Canvas, value: str, x: float, y: float, bar_width: float, bar_height: float
) -> float:
    """Draw `value` as Code 128 bars (no quiet zone) from (x, y); return the width.

    reportlab's Code128 does the encoding (with its digit-pair compression);
    the bars go out as one path in module units instead of a rect() call each.
    """
    ops = []
    left = 0
    for element in _code128_pattern(value):
        modules = ord(element.lower()) - 96  # "a".."d": 1..4 modules wide
        if element.isupper():
            ops.append(f"{left} 0 {modules} 1 re")
        left += modules
    canvas.addLiteral(
        f"q {bar_width:.4f} 0 0 {bar_height:.4f} {x:.3f} {y:.3f} cm 0 g\n"
        + "\n".join(ops)
        + "\nf Q"
    )
    return left * bar_width


def code128_modules(value: str) -> int:
    """Width of `value` in Code 128 modules, without quiet zones."""
    return sum(ord(element.lower()) - 96 for element in _code128_pattern(value))


def _code128_pattern(value: str) -> str:
    """Bars (upper case) and spaces (lower case), the letter giving the width."""
    if not value or not value.isascii():
        # reportlab would silently drop such characters and print a barcode
        # that scans as something else.
        raise ValueError(f"cannot encode {value!r} as Code 128")
    barcode = Code128(value)
    barcode.validate()
    barcode.encode()
    return str(barcode.decompose())


def _header(text: Text, title: str, data: LabelData) -> None:
    top = PAGE_HEIGHT - 4
    text.line(title, MARGIN, top - 20, BOLD, 16, CONTENT_WIDTH * 0.6)
    # The case number is what the receiving dock keys on: give it a whole line.
    text.line(f"RMA/CASE: {data.case_number}", MARGIN, top - 37, BOLD, 11, CONTENT_WIDTH * 0.62)
    right = PAGE_WIDTH - MARGIN
    text.line(data.carrier.upper(), right, top - 20, BOLD, 16, CONTENT_WIDTH * 0.38, align="right")
    text.line(data.service.upper(), right, top - 37, BOLD, 11, CONTENT_WIDTH * 0.36, align="right")


def _address(
    text: Text,
    caption: str,
    address: Address,
    *,
    top: float,
    size: float,
    name_size: float,
    leading: float,
    indent: float,
) -> None:
    """Name and up to four lines below a small caption, starting at `top`."""
    text.line(caption, MARGIN, top - 11, BOLD, 7, CONTENT_WIDTH)
    left = MARGIN + indent
    width = CONTENT_WIDTH - indent
    y = top - 13 - name_size * 1.1
    if address.name:
        text.line(address.name, left, y, BOLD, name_size, width)
        y -= leading + (name_size - size) / 2
    for line in _address_lines(address):
        text.line(line, left, y, REGULAR, size, width)
        y -= leading


def _address_lines(address: Address) -> list[str]:
    region_postal = " ".join(part for part in (address.region, address.postal_code) if part)
    locality = ", ".join(part for part in (address.city, region_postal) if part)
    return [line for line in (address.line1, address.line2, locality, address.country) if line]


def _tracking(canvas: Canvas, text: Text, tracking_number: str) -> None:
    modules = code128_modules(tracking_number)
    bar_width = min(BAR_WIDTH, CONTENT_WIDTH / (modules + 2 * BARCODE_QUIET))
    if bar_width < MIN_BAR_WIDTH:
        raise ValueError(f"tracking number {tracking_number!r} is too long for a 4x6 label")
    width = modules * bar_width
    text.line("TRACKING #", MARGIN, TO_BOTTOM - 11, BOLD, 7, CONTENT_WIDTH)
    draw_code128(
        canvas,
        tracking_number,
        (PAGE_WIDTH - width) / 2,
        BARCODE_BOTTOM + 20,
        bar_width,
        BAR_HEIGHT,
    )
    text.line(
        tracking_number, PAGE_WIDTH / 2, BARCODE_BOTTOM + 7, BOLD, 12, CONTENT_WIDTH, align="center"
    )


def _footer(canvas: Canvas, text: Text, data: LabelData) -> None:
    qr_left, qr_bottom = MARGIN - 4, 16.0
    draw_qr(canvas, data.tracking_url, qr_left, qr_bottom, QR_SIZE)
    caption = _("Track this return") if data.kind == "return_label" else _("Track this shipment")
    text.line(caption, qr_left + QR_SIZE / 2, 10, REGULAR, 7.5, QR_SIZE, align="center")

    left = qr_left + QR_SIZE + 8
    width = PAGE_WIDTH - MARGIN - left
    # The header may have had to cut a long carrier or service name: here each
    # has a line of its own.
    y = BARCODE_BOTTOM - 22
    text.line(_("CARRIER / SERVICE"), left, y, BOLD, 7, width)
    text.line(data.carrier, left, y - 13, BOLD, 11, width)
    text.line(data.service, left, y - 24, REGULAR, 9, width)
    y -= 40
    if data.weight:
        text.line(_("WEIGHT"), left, y, BOLD, 7, width)
        text.line(data.weight, left, y - 12, BOLD, 11, width)
        y -= 30
    if data.kind == "return_label":
        for line in wrap(encode(_(RETURN_INSTRUCTIONS)), REGULAR, 7.5, width)[:4]:
            text.place(line, left, y, REGULAR, 7.5)
            y -= 9
