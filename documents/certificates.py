"""Certificates issued to customers: the Certificate of Repair, the Relocation &
Installation Certificate and the Certificate of Coverage of a service plan.

US Letter, laid out with platypus so that a long parts list or
checklist flows onto more pages (its header repeats on each). Every page carries a
double border and a footer; the verification box (code and QR code of the verify URL)
closes the certificate. Same input, same bytes: invariant=1, fixed metadata, no clock,
uncompressed (see documents/style.py). The certificates share one page frame and
the helpers below, which take plain values.
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
from domain.common import Address
from domain.documents import (
    CertificatePart,
    ChecklistLine,
    CoverageCertificateData,
    RelocationCertificateData,
    RepairCertificateData,
)

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
# Smaller than a date beside it, so that "2 claims per 12 months" fits a third of the row.
CLAIM_LIMIT = ParagraphStyle("claim_limit", DATE, fontSize=12)
BODY = ParagraphStyle("body", BASE, fontSize=10.5, leading=14)
CODE = ParagraphStyle("code", BASE, fontName="Courier-Bold", fontSize=22, leading=26)
CAPTION = ParagraphStyle("caption", BASE, fontSize=9, leading=12, textColor=MUTED)
# A checklist heading stays on the page where its table starts.
CHECKLIST_HEADING = ParagraphStyle("checklist_heading", HEADING, keepWithNext=1)
ADDRESS = ParagraphStyle("address", BASE, fontSize=10.5, leading=14)
FAILED = ParagraphStyle("failed", CELL_HEAD, textColor=colors.HexColor("#b3261e"))

# Part no, description, qty: the description takes the rest.
PART_NO_WIDTH = 1.5 * inch
QTY_WIDTH = 0.6 * inch
# Checklist item, result, note: the note takes the rest.
CHECK_ITEM_WIDTH = 2.6 * inch
CHECK_RESULT_WIDTH = 0.75 * inch
BOX_GAP = 0.25 * inch  # between side-by-side boxes (dates, sites)
# Claim type, deductible: the amount is right-aligned in its own column.
DEDUCTIBLE_AMOUNT_WIDTH = 1.6 * inch


def render_repair_certificate(data: RepairCertificateData) -> bytes:
    """The Certificate of Repair as a PDF on US Letter pages."""
    return _build(
        _repair_story(data),
        title=f"Certificate of Repair {data.certificate_number}",
        subject=f"Job {data.job_number}, serial {data.serial}",
        footer=f"Certificate {data.certificate_number}  \u00b7  Job {data.job_number}",
    )


def render_relocation_certificate(data: RelocationCertificateData) -> bytes:
    """The Relocation & Installation Certificate as a PDF on US Letter pages."""
    return _build(
        _relocation_story(data),
        title=f"Relocation & Installation Certificate {data.certificate_number}",
        subject=f"Relocation {data.relocation_number}, serial {data.serial}",
        footer=(
            f"Certificate {data.certificate_number}  \u00b7  Relocation {data.relocation_number}"
        ),
    )


def render_coverage_certificate(data: CoverageCertificateData) -> bytes:
    """The Certificate of Coverage of a service plan as a PDF on US Letter pages."""
    return _build(
        _coverage_story(data),
        title=f"Certificate of Coverage {data.certificate_number}",
        subject=f"Plan {data.plan_number}, serial {data.serial}",
        footer=f"Certificate {data.certificate_number}  \u00b7  Plan {data.plan_number}",
    )


def _build(story: list[Flowable], *, title: str, subject: str, footer: str) -> bytes:
    """Lay `story` out on bordered Letter pages, each with `footer` and its page number."""
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
        title=title,
        author="aftersales",
        creator="aftersales",
        subject=subject,
    )
    page = _page_decoration(footer)
    document.build(story, onFirstPage=page, onLaterPages=page)
    return buffer.getvalue()


def _repair_story(data: RepairCertificateData) -> list[Flowable]:
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
        _facts(
            [
                [
                    _pair("Certificate number", data.certificate_number, VALUE_BOLD),
                    _pair("Job number", data.job_number, VALUE_BOLD),
                ],
                [
                    _pair("Repair center", data.repair_center_name),
                    _pair("Retailer", data.retailer_name),
                ],
            ]
        ),
        Spacer(1, 10),
        _unit(data.product_name, data.sku, data.serial),
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
        KeepTogether(
            [
                _boxes(
                    [
                        _pair("QA passed on", data.qa_passed_on, DATE),
                        _pair("Repair warranty until", data.repair_warranty_until, DATE),
                    ]
                ),
                Spacer(1, 12),
                _verification(data.verification_code, data.verify_url),
            ]
        ),
    ]


def _relocation_story(data: RelocationCertificateData) -> list[Flowable]:
    return [
        Paragraph(text(data.provider_name.upper()), ISSUER),
        Spacer(1, 4),
        Paragraph(text("Relocation & Installation Certificate"), TITLE),
        Spacer(1, 6),
        Paragraph(
            "This certifies that the unit below was uninstalled, moved to its new site, "
            "reinstalled and commissioned, with the checks recorded below.",
            STATEMENT,
        ),
        Spacer(1, 12),
        _facts(
            [
                [
                    _pair("Certificate number", data.certificate_number, VALUE_BOLD),
                    _pair("Relocation number", data.relocation_number, VALUE_BOLD),
                ],
                [_pair("Provider", data.provider_name), _pair("Retailer", data.retailer_name)],
                [_pair("Technician", data.technician), _pair("Customer", data.customer_first_name)],
            ]
        ),
        Spacer(1, 10),
        _unit(data.product_name, data.sku, data.serial),
        Spacer(1, 10),
        _boxes([_site("From site", data.from_site), _site("To site", data.to_site)]),
        Paragraph("Uninstall checklist", CHECKLIST_HEADING),
        _checklist_table(data.uninstall_checklist),
        Paragraph("Reinstall checklist", CHECKLIST_HEADING),
        _checklist_table(data.reinstall_checklist),
        Paragraph("Commissioning checklist", CHECKLIST_HEADING),
        _checklist_table(data.commissioning_checklist),
        Spacer(1, 14),
        KeepTogether(
            [
                _boxes(
                    [
                        _pair("Uninstalled on", data.uninstalled_on, DATE),
                        _pair("Delivered on", data.delivered_on, DATE),
                        _pair("Commissioned on", data.commissioned_on, DATE),
                    ]
                ),
                Spacer(1, 12),
                _verification(data.verification_code, data.verify_url),
            ]
        ),
    ]


def _coverage_story(data: CoverageCertificateData) -> list[Flowable]:
    return [
        Paragraph(text(data.retailer_name.upper()), ISSUER),
        Spacer(1, 4),
        Paragraph("Certificate of Coverage", TITLE),
        Spacer(1, 6),
        Paragraph(f"Issued for {text(data.issued_for)}", ISSUED_TO),
        Spacer(1, 4),
        Paragraph(
            "This certifies that the unit below is covered by the service plan named here.",
            STATEMENT,
        ),
        Spacer(1, 12),
        _facts(
            [
                [
                    _pair("Certificate number", data.certificate_number, VALUE_BOLD),
                    _pair("Plan number", data.plan_number, VALUE_BOLD),
                ],
                [_pair("Plan", data.plan_name), _pair("Plan code", data.plan_code)],
                [_pair("Owner", data.owner_name), _pair("Retailer", data.retailer_name)],
            ]
        ),
        Spacer(1, 10),
        _unit(data.product_name, data.sku, data.serial),
        Spacer(1, 10),
        _boxes(
            [
                _pair("Term starts on", data.term_starts_on, DATE),
                _pair("Term ends on", data.term_ends_on, DATE),
                _pair("Claim limit", data.claim_limit, CLAIM_LIMIT),
            ]
        ),
        Paragraph("Deductibles", CHECKLIST_HEADING),
        _deductibles_table(data.deductibles),
        Paragraph("Covered incidents", CHECKLIST_HEADING),
        _incidents_table(data.incidents),
        Spacer(1, 14),
        _verification(data.verification_code, data.verify_url),
    ]


def _pair(label: str, value: str, style: ParagraphStyle = VALUE) -> list[Flowable]:
    return [Paragraph(label.upper(), LABEL), Paragraph(text(value), style)]


def _facts(rows: list[list[list[Flowable]]]) -> Table:
    """Label-above-value pairs (certificate and case numbers, who issued and who did the
    work) in two columns, between two rules."""
    half = CONTENT_WIDTH / 2
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


def _unit(product_name: str, sku: str, serial: str) -> Table:
    """Product, SKU and serial on a tinted panel."""
    row = [
        _pair("Product", product_name, VALUE_BOLD),
        _pair("SKU", sku),
        _pair("Serial number", serial),
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


def _site(label: str, address: Address) -> list[Flowable]:
    """An address under its label, one line per part; the name, if any, in bold."""
    lines = [f"<b>{text(address.name)}</b>"] if address.name else []
    region_postal = " ".join(part for part in (address.region, address.postal_code) if part)
    locality = ", ".join(part for part in (address.city, region_postal) if part)
    lines += [
        text(line) for line in (address.line1, address.line2, locality, address.country) if line
    ]
    return [Paragraph(label.upper(), LABEL), Spacer(1, 2), Paragraph("<br/>".join(lines), ADDRESS)]


def _boxes(cells: list[list[Flowable]]) -> Table:
    """Cells (dates, sites) side by side, each in its own box, with gaps between."""
    count = len(cells)
    box = (CONTENT_WIDTH - BOX_GAP * (count - 1)) / count
    row: list[list[Flowable] | str] = []
    widths: list[float] = []
    for index, cell in enumerate(cells):
        if index:
            row.append("")
            widths.append(BOX_GAP)
        row.append(cell)
        widths.append(box)
    style: list[tuple[object, ...]] = [("VALIGN", (0, 0), (-1, -1), "TOP")]
    style += [("BOX", (2 * index, 0), (2 * index, 0), 1, RULE) for index in range(count)]
    style += [
        ("LEFTPADDING", (0, 0), (-1, -1), 10),
        ("TOPPADDING", (0, 0), (-1, -1), 8),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 9),
    ]
    table = Table([row], colWidths=widths)
    table.setStyle(TableStyle(style))
    return table


def _parts_table(parts: list[CertificatePart]) -> Table:
    return _lines_table(
        ["Part no.", "Description", "Qty"],
        [
            [
                Paragraph(text(part.part_no), CELL),
                Paragraph(text(part.description), CELL),
                Paragraph(str(part.quantity), CELL_NUMBER),
            ]
            for part in parts
        ],
        widths=[PART_NO_WIDTH, CONTENT_WIDTH - PART_NO_WIDTH - QTY_WIDTH, QTY_WIDTH],
        empty="No parts replaced",
        numeric_last=True,
    )


def _checklist_table(lines: list[ChecklistLine]) -> Table:
    return _lines_table(
        ["Item", "Result", "Note"],
        [
            [
                Paragraph(text(line.item), CELL),
                Paragraph("Passed", CELL) if line.passed else Paragraph("Failed", FAILED),
                Paragraph(text(line.note), CELL),
            ]
            for line in lines
        ],
        widths=[
            CHECK_ITEM_WIDTH,
            CHECK_RESULT_WIDTH,
            CONTENT_WIDTH - CHECK_ITEM_WIDTH - CHECK_RESULT_WIDTH,
        ],
        empty="No checks recorded",
    )


def _deductibles_table(deductibles: list[tuple[str, str]]) -> Table:
    return _lines_table(
        ["Claim type", "Deductible"],
        [
            [Paragraph(text(claim_type), CELL), Paragraph(text(amount), CELL_NUMBER)]
            for claim_type, amount in deductibles
        ],
        widths=[CONTENT_WIDTH - DEDUCTIBLE_AMOUNT_WIDTH, DEDUCTIBLE_AMOUNT_WIDTH],
        empty="No deductibles apply",
        numeric_last=True,
    )


def _incidents_table(incidents: list[str]) -> Table:
    return _lines_table(
        ["Incident"],
        [[Paragraph(text(incident), CELL)] for incident in incidents],
        widths=[CONTENT_WIDTH],
        empty="No covered incidents listed",
    )


def _lines_table(
    headers: list[str],
    body: list[list[Flowable]],
    *,
    widths: list[float],
    empty: str,
    numeric_last: bool = False,
) -> Table:
    """A striped table whose header row repeats on every page it flows onto; `empty`
    spans the row when there are no lines."""
    head = [Paragraph(header, CELL_HEAD) for header in headers]
    if numeric_last:
        head[-1] = Paragraph(headers[-1], CELL_NUMBER_HEAD)
    rows: list[list[Flowable | str]] = [head, *body]
    if not body:
        rows.append([Paragraph(empty, CELL), *[""] * (len(headers) - 1)])
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
    if not body:
        style.append(("SPAN", (0, 1), (-1, 1)))
    table.setStyle(TableStyle(style))
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


def _verification(code: str, verify_url: str) -> Table:
    """The verification code, big enough to read out over the phone, and a QR code
    of the verify URL, in one accented box."""
    padding = 12
    text_width = CONTENT_WIDTH - QR_SIZE - padding
    left: list[Flowable] = [
        Paragraph("VERIFICATION CODE", LABEL),
        Spacer(1, 4),
        Paragraph(text(code), CODE),
        Spacer(1, 6),
        Paragraph(f"Verify at {text(verify_url)}", CAPTION),
        Paragraph(
            "Scan the code or enter the verification code to confirm this certificate.",
            CAPTION,
        ),
    ]
    table = Table(
        [[left, _QrCode(verify_url, QR_SIZE)]],
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


def _page_decoration(footer: str) -> Callable[[Canvas, SimpleDocTemplate], None]:
    """A double border and a footer (`footer` on the left, the page number on the
    right), on every page."""

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
        canvas.drawString(MARGIN, baseline, footer)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, baseline, f"Page {document.page}")
        canvas.restoreState()

    return draw
