"""The packing slip that goes into a parcel: case, order, items, instructions.

US Letter, laid out with platypus so that long item lists flow onto more
pages (the table header repeats on each). Same input, same bytes:
invariant=1, fixed metadata, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

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
from domain.documents import PackingSlipData, SlipItem

MARGIN = 0.75 * inch
PAGE_WIDTH, PAGE_HEIGHT = letter
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN


TITLE = ParagraphStyle("title", BASE, fontName="Helvetica-Bold", fontSize=22, leading=26)
RETAILER = ParagraphStyle(
    "retailer", BASE, fontName="Helvetica-Bold", fontSize=13, leading=16, alignment=TA_RIGHT
)
HEADING = ParagraphStyle(
    "heading",
    BASE,
    fontName="Helvetica-Bold",
    fontSize=12,
    leading=15,
    spaceBefore=14,
    spaceAfter=6,
)
LABEL = ParagraphStyle(
    "label", BASE, fontName="Helvetica-Bold", fontSize=8, leading=10, textColor=MUTED
)
VALUE = ParagraphStyle("value", BASE, fontSize=11, leading=14)
STEP = ParagraphStyle("step", BASE, fontSize=11, leading=14, spaceAfter=4)
PREPARED = ParagraphStyle("prepared", BASE, fontSize=12, leading=15)
SHIP_BY = ParagraphStyle(
    "ship_by", BASE, fontName="Helvetica-Bold", fontSize=13, leading=16, alignment=TA_CENTER
)

# SKU, description, serial, qty, reason: description and reason take the rest.
ITEM_COLUMNS = (1.1 * inch, None, 1.35 * inch, 0.45 * inch, None)


def render_packing_slip(data: PackingSlipData) -> bytes:
    """The packing slip as a PDF on US Letter pages."""
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=letter,
        leftMargin=MARGIN - FRAME_PADDING,
        rightMargin=MARGIN - FRAME_PADDING,
        topMargin=MARGIN - FRAME_PADDING,
        bottomMargin=MARGIN - FRAME_PADDING,
        invariant=1,
        pageCompression=PAGE_COMPRESSION,
        title=f"Packing slip {data.case_number}",
        author="aftersales",
        creator="aftersales",
        subject=f"Case {data.case_number}, order {data.order_ref}",
    )
    footer = _footer(data)
    document.build(_story(data), onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _story(data: PackingSlipData) -> list[Flowable]:
    story: list[Flowable] = [
        _title_bar(data.retailer_name),
        Spacer(1, 10),
        _facts(data),
        Spacer(1, 14),
        _prepared_for(data),
        Paragraph("Items", HEADING),
        _items_table(data.items),
    ]
    if data.instructions:
        items = [
            ListItem(Paragraph(text(step), STEP), value=n)
            for n, step in enumerate(data.instructions, start=1)
        ]
        # A heading alone at the foot of a page reads as a mistake.
        story.append(
            KeepTogether(
                [
                    Paragraph("Instructions", HEADING),
                    ListFlowable(
                        items,
                        bulletType="1",
                        bulletFormat="%s.",
                        leftIndent=20,
                        bulletFontName="Helvetica-Bold",
                        bulletFontSize=STEP.fontSize,
                    ),
                ]
            )
        )
    return story


def _title_bar(retailer_name: str) -> Table:
    bar = Table(
        [[Paragraph("Packing slip", TITLE), Paragraph(text(retailer_name), RETAILER)]],
        colWidths=[CONTENT_WIDTH * 0.5, CONTENT_WIDTH * 0.5],
    )
    bar.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
                ("LINEBELOW", (0, 0), (-1, 0), 2, INK),
            ]
        )
    )
    return bar


def _facts(data: PackingSlipData) -> Table:
    """Case, order and tracking number as labelled cells, two pairs a row."""

    def pair(label: str, value: str) -> list[Flowable]:
        return [Paragraph(label.upper(), LABEL), Paragraph(text(value), VALUE)]

    rows = [
        pair("Case number", data.case_number) + pair("Tracking number", data.tracking_number),
        pair("Order ref", data.order_ref) + pair("Retailer", data.retailer_name),
    ]
    table = Table(
        rows,
        colWidths=[
            1.1 * inch,
            CONTENT_WIDTH / 2 - 1.1 * inch,
            1.3 * inch,
            CONTENT_WIDTH / 2 - 1.3 * inch,
        ],
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _prepared_for(data: PackingSlipData) -> Table:
    """Who the parcel is for, and the date it must leave by, boxed to stand out."""
    row = [
        Paragraph(f"Prepared for {text(data.customer_first_name)}", PREPARED),
        Paragraph(f"Ship by {text(data.ship_by)}", SHIP_BY),
    ]
    table = Table([row], colWidths=[CONTENT_WIDTH * 0.6, CONTENT_WIDTH * 0.4])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (0, 0), 0),
                ("BOX", (1, 0), (1, 0), 1.5, INK),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 7),
            ]
        )
    )
    return table


def _items_table(items: list[SlipItem]) -> Table:
    header = [Paragraph(title, CELL_HEAD) for title in ("SKU", "Description", "Serial")]
    header += [Paragraph("Qty", CELL_NUMBER_HEAD), Paragraph("Reason", CELL_HEAD)]
    rows: list[list[Flowable | str]] = [list(header)]
    for item in items:
        rows.append(
            [
                Paragraph(text(item.sku), CELL),
                Paragraph(text(item.description), CELL),
                Paragraph(text(item.serial), CELL),
                Paragraph(str(item.quantity), CELL_NUMBER),
                Paragraph(text(item.reason), CELL),
            ]
        )
    if not items:
        rows.append([Paragraph("No items.", CELL), "", "", "", ""])
    fixed = sum(width for width in ITEM_COLUMNS if width is not None)
    flexible = (CONTENT_WIDTH - fixed) / sum(1 for width in ITEM_COLUMNS if width is None)
    widths = [flexible if width is None else width for width in ITEM_COLUMNS]
    # Descriptions get a larger share than reasons.
    widths[1], widths[4] = flexible * 1.25, flexible * 0.75
    table = Table(rows, colWidths=widths, repeatRows=1)
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("LINEBELOW", (0, 0), (-1, 0), 1, INK),
        ("LINEBELOW", (0, 1), (-1, -1), 0.5, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]
    style += [("BACKGROUND", (0, row), (-1, row), STRIPE) for row in range(2, len(rows), 2)]
    if not items:
        style.append(("SPAN", (0, 1), (-1, 1)))
    table.setStyle(TableStyle(style))
    return table


def _footer(data: PackingSlipData) -> Callable[[Canvas, SimpleDocTemplate], None]:
    line = f"Case {data.case_number}  \u00b7  Order {data.order_ref}"

    def draw(canvas: Canvas, document: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, MARGIN - 14, PAGE_WIDTH - MARGIN, MARGIN - 14)
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, MARGIN - 26, line)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, MARGIN - 26, f"Page {document.page}")
        canvas.restoreState()

    return draw
