"""Standard-font text written straight into a page's content stream, as one BT/ET block.

With reportlab in pure Python, every canvas text call costs float formatting and
graphics-state bookkeeping, and every platypus Paragraph a parse, a layout pass and a
text object of its own: for the label, text alone cost more than the bare page, and
for the packing slip and the certificates platypus was four fifths of the render. So
the documents that are rendered per case (labels, packing slips, certificates) measure
their text here, from the standard fonts' advance widths (the table
pdfmetrics.stringWidth reads), fit or wrap it themselves, and write each page's lines as
one block of `Tf Tm Tj` operators.
"""

from __future__ import annotations

import math

from reportlab.pdfbase.pdfmetrics import getFont
from reportlab.pdfgen.canvas import Canvas

REGULAR = "Helvetica"
BOLD = "Helvetica-Bold"
# The certificates' title, "issued to" line and codes.
TIMES_BOLD = "Times-Bold"
TIMES_ITALIC = "Times-Italic"
COURIER_BOLD = "Courier-Bold"

# Advance widths (1/1000 em) in WinAnsiEncoding, the encoding the standard fonts use;
# text is encoded as cp1252, its Windows twin.
WIDTHS: dict[str, tuple[int, ...]] = {
    font: tuple(getFont(font).widths)
    for font in (REGULAR, BOLD, TIMES_BOLD, TIMES_ITALIC, COURIER_BOLD)
}
ELLIPSIS = 0x85  # "…" in cp1252
SPACE = 0x20


def encode(text: str) -> bytes:
    """Text in the standard fonts' encoding; what it cannot print becomes "?"."""
    return text.encode("cp1252", "replace")


def width(raw: bytes, font: str, size: float) -> float:
    """Width of encoded text in points."""
    return sum(map(WIDTHS[font].__getitem__, raw)) * size / 1000


def fit(
    raw: bytes, font: str, size: float, max_width: float, min_size: float = 6.0
) -> tuple[bytes, float, float]:
    """Text, size and width: the size shrinks to fit, down to `min_size`, then
    the text is cut with an ellipsis."""
    widths = WIDTHS[font]
    limit = max_width * 1000  # widths are in 1/1000 of the font size
    units = sum(map(widths.__getitem__, raw))
    if units * size <= limit:
        return raw, size, units * size / 1000
    # Rounded down to what the content stream prints (2 decimals), so it still fits.
    size = max(min_size, math.floor(limit / units * 100) / 100)
    if units * size <= limit:
        return raw, size, units * size / 1000
    budget = limit / size - widths[ELLIPSIS]
    while raw and units > budget:
        units -= widths[raw[-1]]
        raw = raw[:-1]
    return raw + bytes([ELLIPSIS]), size, (units + widths[ELLIPSIS]) * size / 1000


def wrap(raw: bytes, font: str, size: float, max_width: float, indent: float = 0.0) -> list[bytes]:
    """Encoded text broken into lines no wider than `max_width`, nothing left out.

    Runs of white space collapse to one space, as in a platypus Paragraph; lines break
    between words, and a word wider than a whole line is broken between characters.
    No text, no lines. `indent` (points) is what the first line already holds before
    this text, in another font (the space between them included): the first line
    takes less, and is empty when not even the first word fits after it.
    """
    widths = WIDTHS[font]
    limit = max_width * 1000 / size
    words = raw.split()
    joined = b" ".join(words)
    used = indent * 1000 / size
    if used + sum(map(widths.__getitem__, joined)) <= limit:
        return [joined] if joined else []
    space = widths[SPACE]
    lines: list[bytes] = []
    line: list[bytes] = []
    indented = used > 0
    for word in words:
        units = sum(map(widths.__getitem__, word))
        if line and used + space + units <= limit:
            line.append(word)
            used += space + units
            continue
        if indented:
            # The first word goes after the text before it, without a space of its own.
            indented = False
            if used + units <= limit:
                line, used = [word], used + units
                continue
            lines.append(b"")
        elif line:
            lines.append(b" ".join(line))
        if units <= limit:
            line, used = [word], units
            continue
        start, used = 0, 0.0
        for index, byte in enumerate(word):
            if used + widths[byte] > limit and index > start:
                lines.append(word[start:index])
                start, used = index, 0.0
            used += widths[byte]
        line = [word[start:]]
    if line:
        lines.append(b" ".join(line))
    return lines


def escape(raw: bytes) -> str:
    """A PDF literal string body, kept to printable ASCII (octal escapes)."""
    text = raw.decode("latin-1")
    if text.isascii() and text.isprintable():
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return "".join(c if " " <= c <= "~" and c not in "\\()" else f"\\{ord(c):03o}" for c in text)


class Text:
    """Lines of standard-font text on one page, collected into one BT/ET block.

    `fill` is the PDF fill-colour operator of the block's text ("0 g": black); a line
    may name another `color` operator for itself.
    """

    def __init__(self, canvas: Canvas, fill: str = "0 g") -> None:
        self.canvas = canvas
        # A font's internal name, looked up on first use: registering a font puts it in
        # the document's font resources, so a document lists only the fonts it uses.
        self.names: dict[str, str] = {}
        self.fill = fill
        self.color = fill
        self.ops: list[str] = []

    def line(
        self,
        text: str,
        x: float,
        y: float,
        font: str,
        size: float,
        max_width: float,
        *,
        align: str = "left",
        color: str | None = None,
    ) -> None:
        """One line, shrunk (then cut) to fit `max_width` so that nothing overlaps."""
        raw, size, width = fit(encode(text), font, size, max_width)
        self.place(raw, x, y, font, size, width, align=align, color=color)

    def place(
        self,
        raw: bytes,
        x: float,
        y: float,
        font: str,
        size: float,
        width: float | None = None,
        *,
        align: str = "left",
        color: str | None = None,
    ) -> None:
        """One line of encoded text as it is (already fitted or wrapped); `width` saves
        measuring it again when it is aligned right or centred."""
        if align != "left":
            if width is None:
                width = sum(map(WIDTHS[font].__getitem__, raw)) * size / 1000
            x -= width if align == "right" else width / 2
        name = self.names.get(font) or self._register(font)
        op = f"{name} {size:.2f} Tf 1 0 0 1 {x:.2f} {y:.2f} Tm ({escape(raw)}) Tj"
        # The colour operator goes out only where it changes.
        color = color or self.fill
        if color != self.color:
            self.color = color
            op = f"{color} {op}"
        self.ops.append(op)

    def _register(self, font: str) -> str:
        # reportlab's own text objects look the names up the same way.
        name: str = self.canvas._doc.getInternalFontName(font)
        self.names[font] = name
        return name

    def draw(self) -> None:
        """Write the block onto the canvas's current page and start an empty one."""
        # q/Q: the font set here must not leak into reportlab's idea of the state.
        self.canvas.addLiteral(f"q {self.fill} BT\n" + "\n".join(self.ops) + "\nET Q")
        self.ops = []
        self.color = self.fill
