"""Certificates issued to customers: the Certificate of Repair, the Relocation &
Installation Certificate, the Installation Certificate and the Certificate of Coverage of a
service plan.

US Letter. A repair job, a relocation and a plan each render one, so they are drawn the
way the label and the packing slip are (see documents/pdftext.py), not with platypus,
whose Paragraphs and Tables cost ten times a label: text is measured from the fonts'
widths and wrapped here, each page's lines go out as one BT/ET block, and its rules and
fills as one path block. The geometry is platypus's as it was (frame, paddings, leading,
spaces before and after), so the certificates look as they did.

Long parts lists, checklists and incident lists flow onto more pages, their column header
repeated on each; a row taller than a whole page is split between pages, and a long
text paragraph between lines. A section heading stays with the start of its table or
text (a checklist, deductible or incident table with the whole table, which starts a new
page when it does not fit below), and the closing dates stay with the verification box
(code and QR code of the verify URL). Every value wraps, none is cut: only the footer,
which repeats the certificate and case numbers, shrinks to fit its line. Every page
carries a double border and the footer.
Same input, same bytes: invariant=1, fixed metadata, no clock, uncompressed (see
documents/style.py).
"""

from __future__ import annotations

from io import BytesIO
from typing import NamedTuple

from reportlab.lib import colors
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import inch

from documents.pdftext import (
    BOLD,
    COURIER_BOLD,
    REGULAR,
    TIMES_BOLD,
    TIMES_ITALIC,
    Text,
    char_width,
    encode,
    width,
    wrap,
)
from documents.qr import draw_qr
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
from domain.common import Address
from domain.documents import (
    ChecklistLine,
    CoverageCertificateData,
    InstallationCertificateData,
    RelocationCertificateData,
    RepairCertificateData,
)

MARGIN: float = 0.85 * inch
PAGE_WIDTH: float = letter[0]
PAGE_HEIGHT: float = letter[1]
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
RIGHT = PAGE_WIDTH - MARGIN
CENTRE = PAGE_WIDTH / 2
TOP: float = PAGE_HEIGHT - MARGIN  # the content area; the footer is below BOTTOM
BOTTOM: float = MARGIN + 12
BORDER_INSET = 0.4 * inch  # the outer border line, from the page edge
QR_SIZE: float = 1.3 * inch  # includes the 4-module quiet zone


def _rgb(color: colors.Color) -> str:
    return f"{color.red:.3f} {color.green:.3f} {color.blue:.3f}"


ACCENT = colors.HexColor("#1f3a5f")
PANEL = colors.HexColor("#f3f5f8")
RED = colors.HexColor("#b3261e")
INK_FILL, MUTED_FILL, ACCENT_FILL = f"{_rgb(INK)} rg", f"{_rgb(MUTED)} rg", f"{_rgb(ACCENT)} rg"
INK_STROKE, RULE_STROKE, ACCENT_STROKE = f"{_rgb(INK)} RG", f"{_rgb(RULE)} RG", f"{_rgb(ACCENT)} RG"
PANEL_OP, HEADER_FILL_OP, STRIPE_OP = (
    f"{_rgb(PANEL)} rg",
    f"{_rgb(HEADER_FILL)} rg",
    f"{_rgb(STRIPE)} rg",
)

# The double border, the same on every page.
_INNER = BORDER_INSET + 5
BORDER = (
    f"q {ACCENT_STROKE} 2 w {BORDER_INSET:.2f} {BORDER_INSET:.2f} "
    f"{PAGE_WIDTH - 2 * BORDER_INSET:.2f} {PAGE_HEIGHT - 2 * BORDER_INSET:.2f} re S "
    f"0.6 w {_INNER:.2f} {_INNER:.2f} {PAGE_WIDTH - 2 * _INNER:.2f} "
    f"{PAGE_HEIGHT - 2 * _INNER:.2f} re S Q"
)


class _Style(NamedTuple):
    """A paragraph style: the first baseline sits `size` below the paragraph's top, the
    next ones `leading` apart (as in platypus)."""

    font: str
    size: float
    leading: float
    color: str  # fill operator


ISSUER = _Style(BOLD, 11, 14, ACCENT_FILL)
TITLE = _Style(TIMES_BOLD, 30, 36, ACCENT_FILL)
ISSUED_TO = _Style(TIMES_ITALIC, 16, 20, INK_FILL)
STATEMENT = _Style(REGULAR, 10, 14, MUTED_FILL)
HEADING = _Style(BOLD, 11, 14, ACCENT_FILL)
HEADING_BEFORE, HEADING_AFTER = 12.0, 4.0
LABEL = _Style(BOLD, 7.5, 9.5, MUTED_FILL)
VALUE = _Style(REGULAR, 11, 14, INK_FILL)
VALUE_BOLD = _Style(BOLD, 11, 14, INK_FILL)
DATE = _Style(BOLD, 14, 17, INK_FILL)
# Smaller than a date beside it, so that "2 claims per 12 months" fits a third of the row.
CLAIM_LIMIT = _Style(BOLD, 12, 17, INK_FILL)
BODY = _Style(REGULAR, 10.5, 14, INK_FILL)
FAULT_CODE = _Style(COURIER_BOLD, 10.5, 14, INK_FILL)
CODE = _Style(COURIER_BOLD, 22, 26, INK_FILL)
CAPTION = _Style(REGULAR, 9, 12, MUTED_FILL)
ADDRESS = _Style(REGULAR, 10.5, 14, INK_FILL)
ADDRESS_NAME = _Style(BOLD, 10.5, 14, INK_FILL)
CELL = _Style(REGULAR, 9, 11.5, INK_FILL)
CELL_HEAD = _Style(BOLD, 9, 11.5, INK_FILL)
FAILED = _Style(BOLD, 9, 11.5, f"{_rgb(RED)} rg")
# The message in a table without lines, spanning its columns: the row is as tall as
# platypus made it (the blank cells it spanned were 12-point lines).
SPANNING = _Style(REGULAR, 9, 12, INK_FILL)

# A cell's content, top down: paragraphs (a style and its wrapped lines) and spaces.
_Paragraph = tuple[_Style, list[str]]
_Cell = list[_Paragraph | float]

# Label-above-value pairs in two columns: padding (left 0, right 6, top 6, bottom 4).
FACT_COLUMN = CONTENT_WIDTH / 2
FACT_TOP, FACT_BOTTOM, CELL_RIGHT = 6.0, 4.0, 6.0
# Panels and boxes (the unit, dates, sites): padding left 10, right 6, top 8, bottom 9.
BOX_LEFT, BOX_TOP, BOX_BOTTOM = 10.0, 8.0, 9.0
UNIT_WIDTHS = (CONTENT_WIDTH * 0.44, CONTENT_WIDTH * 0.22, CONTENT_WIDTH * 0.34)
BOX_GAP: float = 0.25 * inch  # between side-by-side boxes (dates, sites)


class _Column(NamedTuple):
    title: str
    width: float
    right: bool = False  # numbers: right-aligned


# Part no, description, qty: the description takes the rest.
PART_NO_WIDTH = 1.5 * inch
QTY_WIDTH = 0.6 * inch
PARTS = (
    _Column(N_("Part no."), PART_NO_WIDTH),
    _Column(N_("Description"), CONTENT_WIDTH - PART_NO_WIDTH - QTY_WIDTH),
    _Column(N_("Qty"), QTY_WIDTH, right=True),
)
# Checklist item, result, note: the note takes the rest.
CHECK_ITEM_WIDTH = 2.6 * inch
CHECK_RESULT_WIDTH = 0.75 * inch
CHECKLIST = (
    _Column(N_("Item"), CHECK_ITEM_WIDTH),
    _Column(N_("Result"), CHECK_RESULT_WIDTH),
    _Column(N_("Note"), CONTENT_WIDTH - CHECK_ITEM_WIDTH - CHECK_RESULT_WIDTH),
)
# Claim type, deductible: the amount is right-aligned in its own column.
DEDUCTIBLE_AMOUNT_WIDTH = 1.6 * inch
DEDUCTIBLES = (
    _Column(N_("Claim type"), CONTENT_WIDTH - DEDUCTIBLE_AMOUNT_WIDTH),
    _Column(N_("Deductible"), DEDUCTIBLE_AMOUNT_WIDTH, right=True),
)
INCIDENTS = (_Column(N_("Incident"), CONTENT_WIDTH),)
# Striped tables: a cell is padded 6 left and right, 4 above and below.
CELL_PAD, CELL_V_PAD = 6.0, 4.0
ROW_HEADER_HEIGHT = 2 * CELL_V_PAD + CELL.leading

# The verification box: the code and its captions on the left, the QR code on the right.
VERIFY_PAD = 12.0
VERIFY_TEXT_WIDTH = CONTENT_WIDTH - QR_SIZE - VERIFY_PAD
VERIFY_TEXT_LEFT = VERIFY_PAD + 2


def _repair_certificate(data: RepairCertificateData) -> bytes:
    """The Certificate of Repair as a PDF on US Letter pages."""
    pages = _Pages(
        title=f"Certificate of Repair {data.certificate_number}",
        subject=f"Job {data.job_number}, serial {data.serial}",
        footer=_("Certificate {certificate}  ·  Job {job}").format(
            certificate=data.certificate_number, job=data.job_number
        ),
    )
    _masthead(
        pages,
        data.repair_center_name,
        _("Certificate of Repair"),
        _("Issued to {name}").format(name=data.customer_first_name),
        _("This certifies that the unit below was repaired and passed quality assurance."),
    )
    _facts(
        pages,
        [
            [
                (_("Certificate number"), data.certificate_number, VALUE_BOLD),
                (_("Job number"), data.job_number, VALUE_BOLD),
            ],
            [
                (_("Repair center"), data.repair_center_name, VALUE),
                (_("Retailer"), data.retailer_name, VALUE),
            ],
        ],
    )
    pages.space(10)
    _unit(pages, data.product_name, data.sku, data.serial)
    _heading(pages, _("Fault"), BODY.leading)
    _fault(pages, data.fault_code, data.fault)
    work_done = wrap(encode(data.work_done), BODY.font, BODY.size, CONTENT_WIDTH)
    _heading(pages, _("Work done"), BODY.leading)
    _paragraph(pages, BODY, work_done)
    _table(
        pages,
        _("Parts"),
        PARTS,
        [
            [(CELL, part.part_no), (CELL, part.description), (CELL, str(part.quantity))]
            for part in data.parts
        ],
        empty=_("No parts replaced"),
    )
    pages.space(14)
    _closing(
        pages,
        [
            _pair(_("QA passed on"), data.qa_passed_on, DATE, _box_text_width(2)),
            _pair(_("Repair warranty until"), data.repair_warranty_until, DATE, _box_text_width(2)),
        ],
        data.verification_code,
        data.verify_url,
    )
    return pages.save()


def _relocation_certificate(data: RelocationCertificateData) -> bytes:
    """The Relocation & Installation Certificate as a PDF on US Letter pages."""
    pages = _Pages(
        title=f"Relocation & Installation Certificate {data.certificate_number}",
        subject=f"Relocation {data.relocation_number}, serial {data.serial}",
        footer=_("Certificate {certificate}  ·  Relocation {relocation}").format(
            certificate=data.certificate_number, relocation=data.relocation_number
        ),
    )
    _masthead(
        pages,
        data.provider_name,
        _("Relocation & Installation Certificate"),
        None,
        _(
            "This certifies that the unit below was uninstalled, moved to its new site, "
            "reinstalled and commissioned, with the checks recorded below."
        ),
    )
    return _site_visit_certificate(
        pages,
        data,
        (_("Relocation number"), data.relocation_number),
        [_site(_("From site"), data.from_site), _site(_("To site"), data.to_site)],
        [
            (_("Uninstall checklist"), data.uninstall_checklist),
            (_("Reinstall checklist"), data.reinstall_checklist),
            (_("Commissioning checklist"), data.commissioning_checklist),
        ],
        [
            (_("Uninstalled on"), data.uninstalled_on),
            (_("Delivered on"), data.delivered_on),
            (_("Commissioned on"), data.commissioned_on),
        ],
    )


def _installation_certificate(data: InstallationCertificateData) -> bytes:
    """The Installation Certificate as a PDF on US Letter pages: the relocation
    certificate's layout with one site, the training and the installation's checklists."""
    pages = _Pages(
        title=f"Installation Certificate {data.certificate_number}",
        subject=f"Installation {data.installation_number}, serial {data.serial}",
        footer=_("Certificate {certificate}  ·  Installation {installation}").format(
            certificate=data.certificate_number, installation=data.installation_number
        ),
    )
    _masthead(
        pages,
        data.provider_name,
        _("Installation Certificate"),
        None,
        _(
            "This certifies that the unit below was installed at the site named here and "
            "commissioned, with the checks recorded below."
        ),
    )
    return _site_visit_certificate(
        pages,
        data,
        (_("Installation number"), data.installation_number),
        [
            _site(_("Site"), data.site),
            _pair(_("Training"), data.training, DATE, _box_text_width(2)),
        ],
        [
            (_("Installation checklist"), data.installation_checklist),
            (_("Commissioning checklist"), data.commissioning_checklist),
        ],
        [
            (_("Installed on"), data.installed_on),
            (_("Commissioned on"), data.commissioned_on),
        ],
    )


def _site_visit_certificate(
    pages: _Pages,
    data: RelocationCertificateData | InstallationCertificateData,
    case: tuple[str, str],
    sites: list[_Cell],
    checklists: list[tuple[str, list[ChecklistLine]]],
    dates: list[tuple[str, str]],
) -> bytes:
    """The body shared by the certificates of work on site (a relocation, an installation),
    below their masthead: the facts, the unit, the sites, each visit's checklist and the
    closing dates with the verification code."""
    _facts(
        pages,
        [
            [
                (_("Certificate number"), data.certificate_number, VALUE_BOLD),
                (case[0], case[1], VALUE_BOLD),
            ],
            [
                (_("Provider"), data.provider_name, VALUE),
                (_("Retailer"), data.retailer_name, VALUE),
            ],
            [
                (_("Technician"), data.technician, VALUE),
                (_("Customer"), data.customer_first_name, VALUE),
            ],
        ],
    )
    pages.space(10)
    _unit(pages, data.product_name, data.sku, data.serial)
    pages.space(10)
    _boxes(pages, sites)
    for title, lines in checklists:
        _table(
            pages,
            title,
            CHECKLIST,
            _checklist_rows(lines),
            empty=_("No checks recorded"),
            whole=True,
        )
    pages.space(14)
    text_width = _box_text_width(len(dates))
    _closing(
        pages,
        [_pair(label, value, DATE, text_width) for label, value in dates],
        data.verification_code,
        data.verify_url,
    )
    return pages.save()


def _coverage_certificate(data: CoverageCertificateData) -> bytes:
    """The Certificate of Coverage of a service plan as a PDF on US Letter pages."""
    pages = _Pages(
        title=f"Certificate of Coverage {data.certificate_number}",
        subject=f"Plan {data.plan_number}, serial {data.serial}",
        footer=_("Certificate {certificate}  ·  Plan {plan}").format(
            certificate=data.certificate_number, plan=data.plan_number
        ),
    )
    _masthead(
        pages,
        data.retailer_name,
        _("Certificate of Coverage"),
        _("Issued for {name}").format(name=data.issued_for),
        _("This certifies that the unit below is covered by the service plan named here."),
    )
    _facts(
        pages,
        [
            [
                (_("Certificate number"), data.certificate_number, VALUE_BOLD),
                (_("Plan number"), data.plan_number, VALUE_BOLD),
            ],
            [(_("Plan"), data.plan_name, VALUE), (_("Plan code"), data.plan_code, VALUE)],
            [(_("Owner"), data.owner_name, VALUE), (_("Retailer"), data.retailer_name, VALUE)],
        ],
    )
    pages.space(10)
    _unit(pages, data.product_name, data.sku, data.serial)
    pages.space(10)
    text_width = _box_text_width(3)
    _boxes(
        pages,
        [
            _pair(_("Term starts on"), data.term_starts_on, DATE, text_width),
            _pair(_("Term ends on"), data.term_ends_on, DATE, text_width),
            _pair(_("Claim limit"), data.claim_limit, CLAIM_LIMIT, text_width),
        ],
    )
    _table(
        pages,
        _("Deductibles"),
        DEDUCTIBLES,
        [[(CELL, claim_type), (CELL, amount)] for claim_type, amount in data.deductibles],
        empty=_("No deductibles apply"),
        whole=True,
    )
    _table(
        pages,
        _("Covered incidents"),
        INCIDENTS,
        [[(CELL, incident)] for incident in data.incidents],
        empty=_("No covered incidents listed"),
        whole=True,
    )
    pages.space(14)
    verification = _verification_cell(data.verification_code, data.verify_url)
    pages.make_room(_verification_height(verification))
    _verification(pages, verification, data.verify_url)
    return pages.save()


class _Pages:
    """The document, a cursor down the content area of its current page, and what that
    page draws: fills first, rules over them, text on top, each one block in the content
    stream (QR codes go in as they are drawn)."""

    def __init__(self, *, title: str, subject: str, footer: str) -> None:
        self.buffer = BytesIO()
        canvas = PaperCanvas(
            self.buffer, current_paper(), invariant=1, pageCompression=PAGE_COMPRESSION
        )
        canvas.setTitle(title)
        canvas.setAuthor("aftersales")
        canvas.setCreator("aftersales")
        canvas.setSubject(subject)
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

    def space(self, height: float) -> None:
        """A gap below what is on the page; none at the top of a page."""
        if not self.at_top():
            self.y = max(self.y - height, BOTTOM)

    def make_room(self, height: float) -> None:
        """A new page unless `height` fits on this one (or this one is still empty).

        For blocks that are not split (facts rows, panels, boxes): the inputs' lengths
        (names and dates of at most 200 characters) keep them far shorter than a page.
        """
        if height > self.room() and not self.at_top():
            self.next_page()

    def fill(self, color: str, x: float, y: float, width: float, height: float) -> None:
        self.fills.setdefault(color, []).append(f"{x:.2f} {y:.2f} {width:.2f} {height:.2f} re")

    def rule(self, y: float, width: float, color: str) -> None:
        """A horizontal rule across the content width."""
        self.strokes.append(f"{color} {width} w {MARGIN:.2f} {y:.2f} m {RIGHT:.2f} {y:.2f} l S")

    def box(self, x: float, y: float, width: float, height: float, line: float, color: str) -> None:
        self.strokes.append(f"{color} {line} w {x:.2f} {y:.2f} {width:.2f} {height:.2f} re S")

    def next_page(self) -> None:
        self.finish()
        self.number += 1
        self.y = TOP

    def finish(self) -> None:
        """Border and footer, then the page's graphics and text, and the page is done."""
        footer_y = MARGIN - 14
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
        # Round caps and joins, as platypus draws table rules.
        self.canvas.addLiteral(f"{BORDER}\nq 1 J 1 j\n" + "\n".join(paths + self.strokes) + "\nQ")
        self.text.draw()
        self.canvas.showPage()
        self.fills, self.strokes = {}, []

    def save(self) -> bytes:
        self.finish()
        self.canvas.save()
        return self.buffer.getvalue()


def _masthead(pages: _Pages, issuer: str, title: str, issued: str | None, statement: str) -> None:
    """Who issues it, the title, whom or what for, and what it certifies, centred."""
    _centred(pages, ISSUER, issuer.upper())
    pages.space(4)
    _centred(pages, TITLE, title)
    pages.space(6)
    if issued is not None:
        _centred(pages, ISSUED_TO, issued)
        pages.space(4)
    _centred(pages, STATEMENT, statement)
    pages.space(12)


def _centred(pages: _Pages, style: _Style, value: str) -> None:
    lines = wrap(encode(value), style.font, style.size, CONTENT_WIDTH)
    _paragraph(pages, style, lines, CENTRE, "center")


def _paragraph(
    pages: _Pages, style: _Style, lines: list[str], x: float = MARGIN, align: str = "left"
) -> None:
    """Lines down the page, onto the next one where the page is full."""
    for raw in lines:
        if style.leading > pages.room():
            pages.next_page()
        pages.text.place(
            raw, x, pages.y - style.size, style.font, style.size, align=align, color=style.color
        )
        pages.y -= style.leading


def _heading(pages: _Pages, title: str, keep: float) -> None:
    """A section heading, on a new page unless `keep` more points fit below it (a heading
    alone at the foot of a page reads as a mistake)."""
    before = 0.0 if pages.at_top() else HEADING_BEFORE
    if before + HEADING.leading + HEADING_AFTER + keep > pages.room() and not pages.at_top():
        pages.next_page()
        before = 0.0
    pages.y -= before
    _paragraph(pages, HEADING, [encode(title)])
    pages.y -= HEADING_AFTER


def _fault(pages: _Pages, code: str, fault: str) -> None:
    """The fault code in Courier, then an em dash and the fault, wrapped as one paragraph."""
    code_lines = wrap(encode(code), FAULT_CODE.font, FAULT_CODE.size, CONTENT_WIDTH)
    # The dash follows the code's last line after a space.
    indent = (
        width(code_lines[-1], FAULT_CODE.font, FAULT_CODE.size)
        + char_width(BODY.font, " ") * BODY.size / 1000
        if code_lines
        else 0.0
    )
    rest = wrap(encode(f"\u2014 {fault}"), BODY.font, BODY.size, CONTENT_WIDTH, indent)
    _paragraph(pages, FAULT_CODE, code_lines[:-1])
    if code_lines:
        # The line the code and the fault share.
        _paragraph(pages, FAULT_CODE, code_lines[-1:])
        if rest[0]:
            y = pages.y + BODY.leading - BODY.size
            pages.text.place(rest[0], MARGIN + indent, y, BODY.font, BODY.size, color=BODY.color)
        rest = rest[1:]
    _paragraph(pages, BODY, rest)


def _pair(label: str, value: str, style: _Style, text_width: float) -> _Cell:
    """A label above its value, both wrapped to `text_width`."""
    return [
        (LABEL, wrap(encode(label.upper()), LABEL.font, LABEL.size, text_width)),
        (style, wrap(encode(value), style.font, style.size, text_width)),
    ]


def _cell_height(cell: _Cell) -> float:
    return sum(part if isinstance(part, float) else part[0].leading * len(part[1]) for part in cell)


def _draw_cell(pages: _Pages, cell: _Cell, x: float, top: float) -> None:
    for part in cell:
        if isinstance(part, float):
            top -= part
            continue
        style, lines = part
        for raw in lines:
            pages.text.place(raw, x, top - style.size, style.font, style.size, color=style.color)
            top -= style.leading


def _facts(pages: _Pages, rows: list[list[tuple[str, str, _Style]]]) -> None:
    """Label-above-value pairs (certificate and case numbers, who issued and who did the
    work) in two columns, between two rules."""
    text_width = FACT_COLUMN - CELL_RIGHT
    for index, row in enumerate(rows):
        cells = [_pair(label, value, style, text_width) for label, value, style in row]
        height = FACT_TOP + max(map(_cell_height, cells)) + FACT_BOTTOM
        pages.make_room(height)
        if index == 0:
            pages.rule(pages.y, 1.5, ACCENT_STROKE)
        for column, cell in enumerate(cells):
            _draw_cell(pages, cell, MARGIN + column * FACT_COLUMN, pages.y - FACT_TOP)
        pages.y -= height
    pages.rule(pages.y, 0.5, RULE_STROKE)


def _unit(pages: _Pages, product_name: str, sku: str, serial: str) -> None:
    """Product, SKU and serial on a tinted panel."""
    values = (
        (_("Product"), product_name, VALUE_BOLD),
        (_("SKU"), sku, VALUE),
        (_("Serial number"), serial, VALUE),
    )
    cells = [
        _pair(label, value, style, column - BOX_LEFT - CELL_RIGHT)
        for (label, value, style), column in zip(values, UNIT_WIDTHS, strict=True)
    ]
    height = BOX_TOP + max(map(_cell_height, cells)) + BOX_BOTTOM
    pages.make_room(height)
    pages.fill(PANEL_OP, MARGIN, pages.y - height, CONTENT_WIDTH, height)
    x = MARGIN
    for cell, column in zip(cells, UNIT_WIDTHS, strict=True):
        _draw_cell(pages, cell, x + BOX_LEFT, pages.y - BOX_TOP)
        x += column
    pages.y -= height


def _site(label: str, address: Address) -> _Cell:
    """An address under its label, one line per part; the name, if any, in bold."""
    text_width = _box_text_width(2)
    region_postal = " ".join(part for part in (address.region, address.postal_code) if part)
    locality = ", ".join(part for part in (address.city, region_postal) if part)
    cell: _Cell = [(LABEL, [encode(label.upper())]), 2.0]
    if address.name:
        cell.append((ADDRESS_NAME, wrap(encode(address.name), BOLD, ADDRESS.size, text_width)))
    cell += [
        (ADDRESS, wrap(encode(line), REGULAR, ADDRESS.size, text_width))
        for line in (address.line1, address.line2, locality, address.country)
        if line
    ]
    return cell


def _box_width(count: int) -> float:
    return (CONTENT_WIDTH - BOX_GAP * (count - 1)) / count


def _box_text_width(count: int) -> float:
    return _box_width(count) - BOX_LEFT - CELL_RIGHT


def _boxes_height(cells: list[_Cell]) -> float:
    return BOX_TOP + max(map(_cell_height, cells)) + BOX_BOTTOM


def _boxes(pages: _Pages, cells: list[_Cell]) -> None:
    """Cells (dates, sites) side by side, each in its own box, with gaps between."""
    box = _box_width(len(cells))
    height = _boxes_height(cells)
    pages.make_room(height)
    for index, cell in enumerate(cells):
        x = MARGIN + index * (box + BOX_GAP)
        pages.box(x, pages.y - height, box, height, 1, RULE_STROKE)
        _draw_cell(pages, cell, x + BOX_LEFT, pages.y - BOX_TOP)
    pages.y -= height


def _checklist_rows(lines: list[ChecklistLine]) -> list[list[tuple[_Style, str]]]:
    return [
        [
            (CELL, line.item),
            (CELL, _("Passed")) if line.passed else (FAILED, _("Failed")),
            (CELL, line.note),
        ]
        for line in lines
    ]


def _table(
    pages: _Pages,
    title: str,
    columns: tuple[_Column, ...],
    values: list[list[tuple[_Style, str]]],
    *,
    empty: str,
    whole: bool = False,
) -> None:
    """A heading over a striped table whose header row repeats on every page it flows
    onto; `empty` spans the row when there are no lines. A row taller than a page is
    split between pages. The heading stays with the header and the first row; with
    `whole`, with the whole table: one that does not fit below starts on a new page."""
    row_columns = columns
    rows: list[list[_Paragraph]] = [
        [
            (style, wrap(encode(value), style.font, style.size, column.width - 2 * CELL_PAD))
            for (style, value), column in zip(row, columns, strict=True)
        ]
        for row in values
    ]
    if not rows:
        row_columns = (_Column("", CONTENT_WIDTH),)
        rows = [
            [
                (
                    SPANNING if len(columns) > 1 else CELL,
                    wrap(encode(empty), CELL.font, CELL.size, CONTENT_WIDTH - 2 * CELL_PAD),
                )
            ]
        ]
    keep = sum(map(_row_height, rows)) if whole else _row_height(rows[0])
    _heading(pages, title, ROW_HEADER_HEIGHT + min(keep, TOP - BOTTOM - ROW_HEADER_HEIGHT))
    _table_header(pages, columns)
    for index, cells in enumerate(rows):
        stripe = index % 2 == 1
        while (height := _row_height(cells)) > pages.room():
            fits = int((pages.room() - 2 * CELL_V_PAD) // CELL.leading)
            if fits >= 1 and height > TOP - BOTTOM - ROW_HEADER_HEIGHT:
                # Taller than a page of its own: what fits here, the rest over the page.
                _row(pages, row_columns, [(style, lines[:fits]) for style, lines in cells], stripe)
                cells = [(style, lines[fits:]) for style, lines in cells]
            pages.next_page()
            _table_header(pages, columns)
        _row(pages, row_columns, cells, stripe)


def _row_height(cells: list[_Paragraph]) -> float:
    return 2 * CELL_V_PAD + max(style.leading * max(1, len(lines)) for style, lines in cells)


def _table_header(pages: _Pages, columns: tuple[_Column, ...]) -> None:
    top = pages.y
    pages.fill(HEADER_FILL_OP, MARGIN, top - ROW_HEADER_HEIGHT, CONTENT_WIDTH, ROW_HEADER_HEIGHT)
    y = top - CELL_V_PAD - CELL_HEAD.size
    x = MARGIN
    for column in columns:
        if column.right:
            pages.text.line(
                _(column.title),
                x + column.width - CELL_PAD,
                y,
                BOLD,
                CELL_HEAD.size,
                column.width,
                align="right",
            )
        else:
            pages.text.line(_(column.title), x + CELL_PAD, y, BOLD, CELL_HEAD.size, column.width)
        x += column.width
    pages.y -= ROW_HEADER_HEIGHT
    pages.rule(pages.y, 1, INK_STROKE)


def _row(
    pages: _Pages, columns: tuple[_Column, ...], cells: list[_Paragraph], stripe: bool
) -> None:
    height = _row_height(cells)
    top = pages.y
    if stripe:
        pages.fill(STRIPE_OP, MARGIN, top - height, CONTENT_WIDTH, height)
    x = MARGIN
    for (style, lines), column in zip(cells, columns, strict=True):
        y = top - CELL_V_PAD - style.size
        for raw in lines:
            if column.right:
                pages.text.place(
                    raw,
                    x + column.width - CELL_PAD,
                    y,
                    style.font,
                    style.size,
                    align="right",
                    color=style.color,
                )
            else:
                pages.text.place(raw, x + CELL_PAD, y, style.font, style.size, color=style.color)
            y -= style.leading
        x += column.width
    pages.y -= height
    pages.rule(pages.y, 0.5, RULE_STROKE)


def _closing(pages: _Pages, dates: list[_Cell], code: str, verify_url: str) -> None:
    """The dates in their boxes over the verification box, kept on one page."""
    verification = _verification_cell(code, verify_url)
    pages.make_room(_boxes_height(dates) + 12 + _verification_height(verification))
    _boxes(pages, dates)
    pages.space(12)
    _verification(pages, verification, verify_url)


def _verification_cell(code: str, verify_url: str) -> _Cell:
    """The verification code, big enough to read out over the phone, and how to check it."""
    text_width = VERIFY_TEXT_WIDTH - VERIFY_TEXT_LEFT - CELL_RIGHT
    return [
        (LABEL, [_("VERIFICATION CODE")]),
        4.0,
        (CODE, wrap(encode(code), CODE.font, CODE.size, text_width)),
        6.0,
        (
            CAPTION,
            wrap(
                encode(_("Verify at {url}").format(url=verify_url)),
                REGULAR,
                CAPTION.size,
                text_width,
            ),
        ),
        (
            CAPTION,
            wrap(
                _("Scan the code or enter the verification code to confirm this certificate."),
                REGULAR,
                CAPTION.size,
                text_width,
            ),
        ),
    ]


def _verification_height(cell: _Cell) -> float:
    return max(_cell_height(cell), QR_SIZE) + VERIFY_PAD


def _verification(pages: _Pages, cell: _Cell, verify_url: str) -> None:
    """The code and its captions beside a QR code of the verify URL, both centred
    vertically, in one accented box."""
    height = _verification_height(cell)
    bottom = pages.y - height
    pages.box(MARGIN, bottom, CONTENT_WIDTH, height, 1.5, ACCENT_STROKE)
    _draw_cell(pages, cell, MARGIN + VERIFY_TEXT_LEFT, bottom + (height + _cell_height(cell)) / 2)
    draw_qr(
        pages.canvas,
        verify_url,
        MARGIN + VERIFY_TEXT_WIDTH,
        bottom + (height - QR_SIZE) / 2,
        QR_SIZE,
    )
    pages.y = bottom


# ------------------------------------------------------------------ the renderers


def render_repair_certificate(
    data: RepairCertificateData, words: Words = ENGLISH, paper: str = "Letter"
) -> bytes:
    """The certificate in `words` (English by default) on `paper` (A4 or Letter)."""
    with speaking(words, paper):
        return _repair_certificate(data)


def render_relocation_certificate(
    data: RelocationCertificateData, words: Words = ENGLISH, paper: str = "Letter"
) -> bytes:
    """The certificate in `words` (English by default) on `paper` (A4 or Letter)."""
    with speaking(words, paper):
        return _relocation_certificate(data)


def render_installation_certificate(
    data: InstallationCertificateData, words: Words = ENGLISH, paper: str = "Letter"
) -> bytes:
    """The certificate in `words` (English by default) on `paper` (A4 or Letter)."""
    with speaking(words, paper):
        return _installation_certificate(data)


def render_coverage_certificate(
    data: CoverageCertificateData, words: Words = ENGLISH, paper: str = "Letter"
) -> bytes:
    """The certificate in `words` (English by default) on `paper` (A4 or Letter)."""
    with speaking(words, paper):
        return _coverage_certificate(data)
