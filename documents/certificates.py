"""Certificates issued to customers; for now the Certificate of Repair.

US Letter, laid out with platypus as the packing slip is, so that a long parts
list flows onto more pages (its header repeats on each). Every page carries a
double border and a footer; the verification box (code and QR code of the
verify URL) closes the certificate. Same input, same bytes: invariant=1, fixed
metadata, no clock, uncompressed (see documents/packing_slip.py).
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from documents.qr import draw_qr
from documents.style import (
    BASE,
    CELL,
    CELL_HEAD,
    CELL_NUMBER,
    CELL_NUMBER_HEAD,
    FRAME_PADDING,
    HEADER_FILL,
    INK,
    MUTED,
    PAGE_COMPRESSION,
    RULE,
    STRIPE,
    text,
)
from domain.documents import CertificatePart, RepairCertificateData

MARGIN = 0.85 * inch
PAGE_WIDTH, PAGE_HEIGHT = letter
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
BORDER_INSET = 0.4 * inch  # the outer border line, from the page edge
QR_SIZE = 1.3 * inch  # includes the 4-module quiet zone

ACCENT = colors.HexColor("#1f3a5f")
PANEL = colors.HexColor("#f3f5f8")

ISSUER = ParagraphStyle(
    "issuer",
    BASE,
    fontName="Helvetica-Bold",
    fontSize=11,
    leading=14,
    alignment=TA_CENTER,
    textColor=ACCENT,
)
TITLE = ParagraphStyle(
    "title",
    BASE,
    fontName="Times-Bold",
    fontSize=30,
    leading=36,
    alignment=TA_CENTER,
    textColor=ACCENT,
)
ISSUED_TO = ParagraphStyle(
    "issued_to", BASE, fontName="Times-Italic", fontSize=16, leading=20, alignment=TA_CENTER
)
STATEMENT = ParagraphStyle(
    "statement", BASE, fontSize=10, leading=14, alignment=TA_CENTER, textColor=MUTED
)
HEADING = ParagraphStyle(
    "heading",
    BASE,
    fontName="Helvetica-Bold",
    fontSize=11,
    leading=14,
    spaceBefore=12,
    spaceAfter=4,
    textColor=ACCENT,
)
LABEL = ParagraphStyle(
    "label", BASE, fontName="Helvetica-Bold", fontSize=7.5, leading=9.5, textColor=MUTED
)
VALUE = ParagraphStyle("value", BASE, fontSize=11, leading=14)
VALUE_BOLD = ParagraphStyle("value_bold", VALUE, fontName="Helvetica-Bold")
DATE = ParagraphStyle("date", BASE, fontName="Helvetica-Bold", fontSize=14, leading=17)
BODY = ParagraphStyle("body", BASE, fontSize=10.5, leading=14)
CODE = ParagraphStyle("code", BASE, fontName="Courier-Bold", fontSize=22, leading=26)
CAPTION = ParagraphStyle("caption", BASE, fontSize=9, leading=12, textColor=MUTED)

# Part no, description, qty: the description takes the rest.
PART_NO_WIDTH = 1.5 * inch
QTY_WIDTH = 0.6 * inch


def render_repair_certificate(data: RepairCertificateData) -> bytes:
    """The Certificate of Repair as a PDF on US Letter pages."""
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=letter,
        leftMargin=MARGIN - FRAME_PADDING,
        rightMargin=MARGIN - FRAME_PADDING,
        topMargin=MARGIN - FRAME_PADDING,
        bottomMargin=MARGIN - FRAME_PADDING + 12,  # room for the footer line
        invariant=1,
        pageCompression=PAGE_COMPRESSION,
        title=f"Certificate of Repair {data.certificate_number}",
        author="aftersales",
        creator="aftersales",
        subject=f"Job {data.job_number}, serial {data.serial}",
    )
    page = _page_decoration(data)
    document.build(_story(data), onFirstPage=page, onLaterPages=page)
    return buffer.getvalue()


def _story(data: RepairCertificateData) -> list[Flowable]:
    return [
        Paragraph(text(data.repair_center_name.upper()), ISSUER),
        Spacer(1, 4),
        Paragraph("Certificate of Repair", TITLE),
        Spacer(1, 6),
        Paragraph(f"Issued to {text(data.customer_first_name)}", ISSUED_TO),
        Spacer(1, 4),
        Paragraph(
            "This certifies that the unit below was repaired and passed quality assurance.",
            STATEMENT,
        ),
        Spacer(1, 12),
        _facts(data),
        Spacer(1, 10),
        _unit(data),
        Paragraph("Fault", HEADING),
        Paragraph(
            f"<font name='Courier-Bold'>{text(data.fault_code)}</font>"
            f"\u2002\u2014\u2002{text(data.fault)}",
            BODY,
        ),
        Paragraph("Work done", HEADING),
        Paragraph(text(data.work_done), BODY),
        Paragraph("Parts", HEADING),
        _parts_table(data.parts),
        Spacer(1, 14),
        KeepTogether([_dates(data), Spacer(1, 12), _verification(data)]),
    ]


def _pair(label: str, value: str, style: ParagraphStyle = VALUE) -> list[Flowable]:
    return [Paragraph(label.upper(), LABEL), Paragraph(text(value), style)]


def _facts(data: RepairCertificateData) -> Table:
    """Certificate and job numbers, repair center and retailer: two columns of
    label above value, between two rules."""
    half = CONTENT_WIDTH / 2
    rows = [
        [
            _pair("Certificate number", data.certificate_number, VALUE_BOLD),
            _pair("Job number", data.job_number, VALUE_BOLD),
        ],
        [_pair("Repair center", data.repair_center_name), _pair("Retailer", data.retailer_name)],
    ]
    table = Table(rows, colWidths=[half, half])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEABOVE", (0, 0), (-1, 0), 1.5, ACCENT),
                ("LINEBELOW", (0, -1), (-1, -1), 0.5, RULE),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


def _unit(data: RepairCertificateData) -> Table:
    """Product, SKU and serial on a tinted panel."""
    row = [
        _pair("Product", data.product_name, VALUE_BOLD),
        _pair("SKU", data.sku),
        _pair("Serial number", data.serial),
    ]
    table = Table([row], colWidths=[CONTENT_WIDTH * 0.44, CONTENT_WIDTH * 0.22, None])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, -1), PANEL),
                ("LEFTPADDING", (0, 0), (-1, -1), 10),
                ("TOPPADDING", (0, 0), (-1, -1), 8),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 9),
            ]
        )
    )
    return table


def _parts_table(parts: list[CertificatePart]) -> Table:
    rows: list[list[Flowable | str]] = [
        [
            Paragraph("Part no.", CELL_HEAD),
            Paragraph("Description", CELL_HEAD),
            Paragraph("Qty", CELL_NUMBER_HEAD),
        ]
    ]
    for part in parts:
        rows.append(
            [
                Paragraph(text(part.part_no), CELL),
                Paragraph(text(part.description), CELL),
                Paragraph(str(part.quantity), CELL_NUMBER),
            ]
        )
    if not parts:
        rows.append([Paragraph("No parts replaced", CELL), "", ""])
    widths = [PART_NO_WIDTH, CONTENT_WIDTH - PART_NO_WIDTH - QTY_WIDTH, QTY_WIDTH]
    table = Table(rows, colWidths=widths, repeatRows=1)
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("LINEBELOW", (0, 0), (-1, 0), 1, INK),
        ("LINEBELOW", (0, 1), (-1, -1), 0.5, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]
    style += [("BACKGROUND", (0, row), (-1, row), STRIPE) for row in range(2, len(rows), 2)]
    if not parts:
        style.append(("SPAN", (0, 1), (-1, 1)))
    table.setStyle(TableStyle(style))
    return table


def _dates(data: RepairCertificateData) -> Table:
    """QA date and the end of the repair warranty, side by side in boxes."""
    row = [
        _pair("QA passed on", data.qa_passed_on, DATE),
        "",
        _pair("Repair warranty until", data.repair_warranty_until, DATE),
    ]
    gap = 0.25 * inch
    box = (CONTENT_WIDTH - gap) / 2
    table = Table([row], colWidths=[box, gap, box])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BOX", (0, 0), (0, 0), 1, RULE),
                ("BOX", (2, 0), (2, 0), 1, RULE),
                ("LEFTPADDING", (0, 0), (-1, -1), 10),
                ("TOPPADDING", (0, 0), (-1, -1), 8),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 9),
            ]
        )
    )
    return table


class _QrCode(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """A QR code of `data` in a `size` square (quiet zone included)."""

    def __init__(self, data: str, size: float) -> None:
        super().__init__()
        self.data = data
        self.size = size

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        draw_qr(self.canv, self.data, 0, 0, self.size)


def _verification(data: RepairCertificateData) -> Table:
    """The verification code, big enough to read out over the phone, and a QR code
    of the verify URL, in one accented box."""
    padding = 12
    text_width = CONTENT_WIDTH - QR_SIZE - padding
    left: list[Flowable] = [
        Paragraph("VERIFICATION CODE", LABEL),
        Spacer(1, 4),
        Paragraph(text(data.verification_code), CODE),
        Spacer(1, 6),
        Paragraph(f"Verify at {text(data.verify_url)}", CAPTION),
        Paragraph(
            "Scan the code or enter the verification code to confirm this certificate.",
            CAPTION,
        ),
    ]
    table = Table(
        [[left, _QrCode(data.verify_url, QR_SIZE)]],
        colWidths=[text_width, QR_SIZE + padding],
    )
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.5, ACCENT),
                ("VALIGN", (0, 0), (0, 0), "MIDDLE"),
                ("VALIGN", (1, 0), (1, 0), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (0, 0), padding + 2),
                ("LEFTPADDING", (1, 0), (1, 0), 0),
                ("RIGHTPADDING", (1, 0), (1, 0), padding),
                ("TOPPADDING", (0, 0), (-1, -1), padding / 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), padding / 2),
            ]
        )
    )
    return table


def _page_decoration(data: RepairCertificateData) -> Callable[[Canvas, SimpleDocTemplate], None]:
    """A double border and a footer with the certificate and job numbers, on every page."""
    line = f"Certificate {data.certificate_number}  \u00b7  Job {data.job_number}"

    def draw(canvas: Canvas, document: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setStrokeColor(ACCENT)
        inset = BORDER_INSET
        canvas.setLineWidth(2)
        canvas.rect(inset, inset, PAGE_WIDTH - 2 * inset, PAGE_HEIGHT - 2 * inset)
        canvas.setLineWidth(0.6)
        inset += 5
        canvas.rect(inset, inset, PAGE_WIDTH - 2 * inset, PAGE_HEIGHT - 2 * inset)
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(MUTED)
        baseline = MARGIN - 14
        canvas.drawString(MARGIN, baseline, line)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, baseline, f"Page {document.page}")
        canvas.restoreState()

    return draw
