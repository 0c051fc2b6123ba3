"""The packing slip that goes into a parcel: case, order, items, instructions.

US Letter. One is rendered per RMA, so it is drawn the way the label is (see
documents/labels.py and documents/pdftext.py), not with platypus, whose Paragraphs and
Tables cost four times a label: text is measured from the font's widths and wrapped
here, each page's lines go out as one BT/ET block, and the rules and fills of each page
as one path block. Long item lists flow onto more pages, the table's header repeated on
each; a row taller than a whole page is split between pages. No fact, item or step is
ever cut: only the footer's repeat of case and order numbers shrinks to fit its line.
Same input, same bytes: invariant=1, fixed metadata, no clock, uncompressed.
"""

from __future__ import annotations

from io import BytesIO

from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas

from documents.pdftext import BOLD, REGULAR, Text, encode, wrap
from documents.style import (
    ENGLISH,
    HEADER_FILL,
    INK,
    MUTED,
    N_,
    PAGE_COMPRESSION,
    RULE,
    STRIPE,
    PaperCanvas,
    Words,
    _,
    current_paper,
    speaking,
)
from domain.documents import PackingSlipData, SlipItem

MARGIN = 0.75 * inch
PAGE_WIDTH, PAGE_HEIGHT = letter
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
TOP: float = PAGE_HEIGHT - MARGIN  # the content area; the footer is below BOTTOM
BOTTOM: float = MARGIN
RIGHT = PAGE_WIDTH - MARGIN
PAD = 6.0  # left and right padding inside a table cell


def _rgb(color: Color) -> str:
    return f"{color.red:.3f} {color.green:.3f} {color.blue:.3f}"


INK_FILL, MUTED_FILL = f"{_rgb(INK)} rg", f"{_rgb(MUTED)} rg"
INK_STROKE, RULE_STROKE = f"{_rgb(INK)} RG", f"{_rgb(RULE)} RG"
HEADER_FILL_OP, STRIPE_OP = f"{_rgb(HEADER_FILL)} rg", f"{_rgb(STRIPE)} rg"

# The facts: a caption and its value, two pairs a row: (x, caption width, value width).
_HALF = CONTENT_WIDTH / 2
FACT_COLUMNS = (
    (MARGIN, 1.1 * inch, _HALF - 1.1 * inch),
    (MARGIN + _HALF, 1.3 * inch, _HALF - 1.3 * inch),
)
CAPTION_SIZE, CAPTION_LEADING = 8.0, 10.0
FACT_SIZE, FACT_LEADING = 11.0, 14.0
FACT_PAD = 3.0  # above and below a row of facts

PREPARED_WIDTH = CONTENT_WIDTH * 0.6  # "Prepared for", then the boxed ship-by date

HEADING_SIZE, HEADING_LEADING = 12.0, 15.0
HEADING_BEFORE, HEADING_AFTER = 14.0, 6.0

# The items table. SKU, description, serial, qty, reason: description and reason share
# what the others leave, the description the larger part. (title, x, width, right-aligned)
_FLEXIBLE = (CONTENT_WIDTH - (1.1 + 1.35 + 0.45) * inch) / 2
_WIDTHS = (1.1 * inch, _FLEXIBLE * 1.25, 1.35 * inch, 0.45 * inch, _FLEXIBLE * 0.75)
COLUMNS = tuple(
    (title, MARGIN + sum(_WIDTHS[:index]), width, title == "Qty")
    for index, (title, width) in enumerate(
        zip(
            (N_("SKU"), N_("Description"), N_("Serial"), N_("Qty"), N_("Reason")),
            _WIDTHS,
            strict=True,
        )
    )
)
CELL_SIZE, CELL_LEADING, CELL_PAD = 9.0, 11.5, 5.0  # CELL_PAD: above and below
TABLE_HEADER_HEIGHT = 2 * CELL_PAD + CELL_LEADING

STEP_SIZE, STEP_LEADING, STEP_AFTER = 11.0, 14.0, 4.0
STEP_INDENT = 20.0  # the step's text; its number sits in the margin this leaves


def render_packing_slip(
    data: PackingSlipData, words: Words = ENGLISH, paper: str = "Letter"
) -> bytes:
    """The packing slip in `words` (English by default) on `paper` (A4 or Letter)."""
    with speaking(words, paper):
        return _packing_slip(data)


def _packing_slip(data: PackingSlipData) -> bytes:
    buffer = BytesIO()
    canvas = PaperCanvas(buffer, current_paper(), invariant=1, pageCompression=PAGE_COMPRESSION)
    canvas.setTitle(f"Packing slip {data.case_number}")
    canvas.setAuthor("aftersales")
    canvas.setCreator("aftersales")
    canvas.setSubject(f"Case {data.case_number}, order {data.order_ref}")

    pages = _Pages(
        canvas,
        _("Case {case}  ·  Order {order}").format(case=data.case_number, order=data.order_ref),
    )
    _title_bar(pages, data.retailer_name)
    _facts(pages, data)
    _prepared_for(pages, data)
    _items(pages, data.items)
    _instructions(pages, data.instructions)
    pages.finish()
    canvas.save()
    return buffer.getvalue()


class _Pages:
    """A cursor down the content area of the current page, and what the page draws:
    fills first, rules over them, text on top, each one block in the content stream."""

    def __init__(self, canvas: Canvas, footer: str) -> None:
        self.canvas = canvas
        self.text = Text(canvas, fill=INK_FILL)
        self.footer = footer
        self.number = 1
        self.y: float = TOP
        self.fills: dict[str, list[str]] = {}
        self.strokes: list[str] = []

    def room(self) -> float:
        return self.y - BOTTOM

    def at_top(self) -> bool:
        return self.y == TOP

    def fill(self, color: str, x: float, y: float, width: float, height: float) -> None:
        self.fills.setdefault(color, []).append(f"{x:.2f} {y:.2f} {width:.2f} {height:.2f} re")

    def rule(self, y: float, width: float, color: str) -> None:
        """A horizontal rule across the content width."""
        self.strokes.append(f"{color} {width} w {MARGIN:.2f} {y:.2f} m {RIGHT:.2f} {y:.2f} l S")

    def box(self, x: float, y: float, width: float, height: float, line: float) -> None:
        self.strokes.append(f"{INK_STROKE} {line} w {x:.2f} {y:.2f} {width:.2f} {height:.2f} re S")

    def next_page(self) -> None:
        self.finish()
        self.number += 1
        self.y = TOP

    def finish(self) -> None:
        """Footer, then the page's graphics and text, and the page is done."""
        self.rule(MARGIN - 14, 0.5, RULE_STROKE)
        footer_y = MARGIN - 26
        self.text.line(
            self.footer, MARGIN, footer_y, REGULAR, 8, CONTENT_WIDTH - 60, color=MUTED_FILL
        )
        self.text.line(
            _("Page {number}").format(number=self.number),
            RIGHT,
            footer_y,
            REGULAR,
            8,
            55,
            align="right",
            color=MUTED_FILL,
        )
        paths = [f"{color}\n" + "\n".join(rects) + "\nf" for color, rects in self.fills.items()]
        self.canvas.addLiteral("q\n" + "\n".join(paths + self.strokes) + "\nQ")
        self.text.draw()
        self.canvas.showPage()
        self.fills, self.strokes = {}, []


def _title_bar(pages: _Pages, retailer_name: str) -> None:
    """The title and the retailer's name on one baseline, over a heavy rule."""
    retailer = wrap(encode(retailer_name), BOLD, 13, _HALF)
    height = max(26.0, 16.0 * len(retailer))
    bottom = pages.y - 3 - height  # both sit on the bottom of the bar
    pages.text.line(_("Packing slip"), MARGIN, bottom + 4, BOLD, 22, _HALF)
    y = bottom + 16 * len(retailer) - 13
    for raw in retailer:
        pages.text.place(raw, RIGHT, y, BOLD, 13, align="right")
        y -= 16
    pages.rule(bottom - 8, 2, INK_STROKE)
    pages.y = bottom - 8 - 10


def _facts(pages: _Pages, data: PackingSlipData) -> None:
    """Case, order and tracking number as captioned values, two pairs a row."""
    rows = (
        ((_("CASE NUMBER"), data.case_number), (_("TRACKING NUMBER"), data.tracking_number)),
        ((_("ORDER REF"), data.order_ref), (_("RETAILER"), data.retailer_name)),
    )
    for row in rows:
        cells = [
            (x, caption, caption_width, wrap(encode(value), REGULAR, FACT_SIZE, value_width - PAD))
            for (caption, value), (x, caption_width, value_width) in zip(
                row, FACT_COLUMNS, strict=True
            )
        ]
        height = 2 * FACT_PAD + max(
            CAPTION_LEADING, FACT_LEADING * max(len(lines) for *_, lines in cells)
        )
        _make_room(pages, height)
        top = pages.y - FACT_PAD
        for x, caption, caption_width, lines in cells:
            pages.text.line(
                caption,
                x,
                top - CAPTION_SIZE,
                BOLD,
                CAPTION_SIZE,
                caption_width - PAD,
                color=MUTED_FILL,
            )
            y = top - FACT_SIZE
            for raw in lines:
                pages.text.place(raw, x + caption_width, y, REGULAR, FACT_SIZE)
                y -= FACT_LEADING
        pages.y -= height
    pages.y -= 14


def _prepared_for(pages: _Pages, data: PackingSlipData) -> None:
    """Who the parcel is for, and the date it must leave by, boxed to stand out."""
    box_width = CONTENT_WIDTH - PREPARED_WIDTH
    prepared = wrap(
        encode(_("Prepared for {name}").format(name=data.customer_first_name)),
        REGULAR,
        12,
        PREPARED_WIDTH - PAD,
    )
    ship_by = wrap(
        encode(_("Ship by {date}").format(date=data.ship_by)), BOLD, 13, box_width - 2 * PAD
    )
    inner = max(15.0 * len(prepared), 16.0 * len(ship_by))
    height = 6 + inner + 7
    _make_room(pages, height)
    top = pages.y - 6
    # Each side centred on the row's middle.
    y = top - (inner - 15 * len(prepared)) / 2 - 12
    for raw in prepared:
        pages.text.place(raw, MARGIN, y, REGULAR, 12)
        y -= 15
    centre = MARGIN + PREPARED_WIDTH + box_width / 2
    y = top - (inner - 16 * len(ship_by)) / 2 - 13
    for raw in ship_by:
        pages.text.place(raw, centre, y, BOLD, 13, align="center")
        y -= 16
    pages.box(MARGIN + PREPARED_WIDTH, pages.y - height, box_width, height, 1.5)
    pages.y -= height


def _items(pages: _Pages, items: list[SlipItem]) -> None:
    rows = [_cells(item) for item in items] or [[[_("No items.")], [], [], [], []]]
    first = min(_row_height(rows[0]), TOP - BOTTOM - TABLE_HEADER_HEIGHT)
    _heading(pages, _("Items"), TABLE_HEADER_HEIGHT + first)
    _table_header(pages)
    for index, cells in enumerate(rows):
        stripe = index % 2 == 1
        while (height := _row_height(cells)) > pages.room():
            fits = int((pages.room() - 2 * CELL_PAD) // CELL_LEADING)
            if fits >= 1 and height > TOP - BOTTOM - TABLE_HEADER_HEIGHT:
                # Taller than a page of its own: what fits here, the rest over the page.
                _row(pages, [lines[:fits] for lines in cells], stripe)
                cells = [lines[fits:] for lines in cells]
            pages.next_page()
            _table_header(pages)
        _row(pages, cells, stripe)


def _cells(item: SlipItem) -> list[list[str]]:
    """An item's cells as wrapped lines, in column order."""
    values = (item.sku, item.description, item.serial, str(item.quantity), item.reason)
    return [
        wrap(encode(value), REGULAR, CELL_SIZE, width - 2 * PAD)
        for value, (_, _, width, _) in zip(values, COLUMNS, strict=True)
    ]


def _row_height(cells: list[list[str]]) -> float:
    return 2 * CELL_PAD + CELL_LEADING * max(1, *map(len, cells))


def _table_header(pages: _Pages) -> None:
    top = pages.y
    pages.fill(
        HEADER_FILL_OP, MARGIN, top - TABLE_HEADER_HEIGHT, CONTENT_WIDTH, TABLE_HEADER_HEIGHT
    )
    y = top - CELL_PAD - CELL_SIZE
    for title, x, width, right in COLUMNS:
        if right:
            pages.text.line(_(title), x + width - PAD, y, BOLD, CELL_SIZE, width, align="right")
        else:
            pages.text.line(_(title), x + PAD, y, BOLD, CELL_SIZE, width)
    pages.y -= TABLE_HEADER_HEIGHT
    pages.rule(pages.y, 1, INK_STROKE)


def _row(pages: _Pages, cells: list[list[str]], stripe: bool) -> None:
    height = _row_height(cells)
    top = pages.y
    if stripe:
        pages.fill(STRIPE_OP, MARGIN, top - height, CONTENT_WIDTH, height)
    for lines, (_title, x, width, right) in zip(cells, COLUMNS, strict=True):
        y = top - CELL_PAD - CELL_SIZE
        for raw in lines:
            if right:
                pages.text.place(raw, x + width - PAD, y, REGULAR, CELL_SIZE, align="right")
            else:
                pages.text.place(raw, x + PAD, y, REGULAR, CELL_SIZE)
            y -= CELL_LEADING
    pages.y -= height
    pages.rule(pages.y, 0.5, RULE_STROKE)


def _instructions(pages: _Pages, steps: list[str]) -> None:
    if not steps:
        return
    wrapped = [
        wrap(encode(step), REGULAR, STEP_SIZE, CONTENT_WIDTH - STEP_INDENT) or [""]
        for step in steps
    ]
    # Heading and steps kept together when they fit on a page at all.
    _heading(
        pages, _("Instructions"), sum(STEP_LEADING * len(lines) + STEP_AFTER for lines in wrapped)
    )
    for number, lines in enumerate(wrapped, start=1):
        for index, raw in enumerate(lines):
            if pages.room() < STEP_LEADING:
                pages.next_page()
            y = pages.y - STEP_SIZE
            if index == 0:
                pages.text.line(f"{number}.", MARGIN, y, BOLD, STEP_SIZE, STEP_INDENT)
            pages.text.place(raw, MARGIN + STEP_INDENT, y, REGULAR, STEP_SIZE)
            pages.y -= STEP_LEADING
        pages.y -= STEP_AFTER


def _heading(pages: _Pages, title: str, keep: float) -> None:
    """A section heading, on a new page unless `keep` more points fit below it (a heading
    alone at the foot of a page reads as a mistake)."""
    before = 0.0 if pages.at_top() else HEADING_BEFORE
    if before + HEADING_LEADING + HEADING_AFTER + keep > pages.room() and not pages.at_top():
        pages.next_page()
        before = 0.0
    pages.y -= before
    pages.text.line(title, MARGIN, pages.y - HEADING_SIZE, BOLD, HEADING_SIZE, CONTENT_WIDTH)
    pages.y -= HEADING_LEADING + HEADING_AFTER


def _make_room(pages: _Pages, height: float) -> None:
    """A new page unless `height` fits on this one (or this one is still empty)."""
    if height > pages.room() and not pages.at_top():
        pages.next_page()
