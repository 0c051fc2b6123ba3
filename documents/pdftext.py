"""Unicode text written straight into a page's content stream, as one BT/ET block.

With reportlab in pure Python, every canvas text call costs float formatting and
graphics-state bookkeeping, and every platypus Paragraph a parse, a layout pass and a
text object of its own: for the label, text alone cost more than the bare page, and
for the packing slip and the certificates platypus was four fifths of the render. So
the documents that are rendered per case (labels, packing slips, certificates) measure
their text here, from the drawn fonts' advance widths, fit or wrap it themselves, and
write each page's lines as one block of `Tf Tm Tj` operators.

A style (REGULAR, BOLD, ...) is drawn in up to three fonts, each character in the first
that can print it:

1. the standard (base-14) font of the style, Helvetica, Times or Courier, for every
   character in its WinAnsi encoding (cp1252: English, German, French, "Zoë", "€").
   Nothing is embedded: the reader has these fonts;
2. DejaVu (Latin, Greek, Cyrillic and more: the "Ł" of "Zoë Łukasiewicz"), embedded as
   a subset of the glyphs used;
3. for what DejaVu has no glyph for, Droid Sans Fallback (Chinese, Japanese, Korean:
   "山田太郎"), embedded as a subset too.

The TrueType fonts are vendored in documents/fonts/ with their licences. Embedding costs:
registering a subset and writing its font program made a label 3x the CPU and 10x the
bytes, so a document embeds them only for the characters the standard fonts cannot
print. A line becomes runs of consecutive characters in one font, one `Tf` each.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONTS_DIR = Path(__file__).resolve().parent / "fonts"

# The styles, named by their standard fonts.
REGULAR = "Helvetica"
BOLD = "Helvetica-Bold"
# The certificates' title, "issued to" line and codes.
TIMES_BOLD = "Times-Bold"
TIMES_ITALIC = "Times-Italic"
COURIER_BOLD = "Courier-Bold"
# What each style draws the characters its standard font cannot print in.
UNICODE = {
    REGULAR: "DejaVuSansCondensed",
    BOLD: "DejaVuSansCondensed-Bold",
    TIMES_BOLD: "DejaVuSerifCondensed-Bold",
    TIMES_ITALIC: "DejaVuSerifCondensed-Italic",
    COURIER_BOLD: "DejaVuSansMono-Bold",
}
# Chinese, Japanese and Korean, for every style (it has one weight).
FALLBACK = "DroidSansFallback"

ELLIPSIS = "\u2026"
SPACE = " "


def _winansi() -> str:
    """The characters of cp1252, the standard fonts' WinAnsiEncoding, in byte order (the
    five bytes cp1252 leaves undefined map to NUL, which text never holds)."""
    return "".join(
        bytes([b]).decode("cp1252", "replace").replace("\ufffd", "\0") for b in range(256)
    )


WINANSI = _winansi()


@cache
def _standard(font: str) -> dict[str, float]:
    """Advance widths (1/1000 em) of a standard font by character: the characters it
    prints."""
    widths = pdfmetrics.getFont(font).widths
    table = {char: float(widths[byte]) for byte, char in enumerate(WINANSI)}
    table.pop("\0", None)
    return table


@cache
def _font(name: str) -> TTFont:
    """The font, registered with reportlab on first use (DejaVu's and the fallback's
    megabytes are read only when a document needs them)."""
    font = TTFont(name, str(FONTS_DIR / f"{name}.ttf"))
    pdfmetrics.registerFont(font)
    return font


@cache
def _widths(name: str) -> dict[int, float]:
    """Advance widths (1/1000 em) by code point: the characters the font has a glyph for."""
    face = _font(name).face
    return {code: float(w) for code, w in face.charWidths.items()}


def font_of(font: str, char: str) -> str:
    """The font `char` is drawn in, in the style `font`: the standard font when its
    encoding has the character, else DejaVu when it has the glyph, else the fallback (a
    character none has is drawn as DejaVu's missing-glyph box)."""
    if char in _standard(font):
        return font
    unicode = UNICODE[font]
    code = ord(char)
    if code in _widths(unicode) or char.isspace():
        return unicode
    if code in _widths(FALLBACK):
        return FALLBACK
    return unicode


def char_width(font: str, char: str) -> float:
    """Advance width of one character in 1/1000 em, in the font it is drawn in."""
    standard = _standard(font).get(char)
    if standard is not None:
        return standard
    drawn = font_of(font, char)
    widths = _widths(drawn)
    return widths.get(ord(char), widths.get(0x20, 500.0) if char.isspace() else _missing(drawn))


@cache
def _missing(font: str) -> float:
    return float(_font(font).face.defaultWidth)


_CONTROLS = str.maketrans({code: " " for code in (*range(0x20), 0x7F)})


def encode(text: str) -> str:
    """Text as the renderer takes it: control characters (a label field is one line)
    become spaces."""
    return text.translate(_CONTROLS)


def _literal(run: str) -> str:
    """A PDF literal string body of standard-font text."""
    if run.isascii() and run.isprintable():
        return run.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return escape(run.encode("cp1252"))


def _units(raw: str, font: str) -> float:
    try:
        # Most text is all in the standard font's encoding: one lookup a character.
        return sum(map(_standard(font).__getitem__, raw))
    except KeyError:
        return sum(char_width(font, c) for c in raw)


def width(raw: str, font: str, size: float) -> float:
    """Width of text in points."""
    return _units(raw, font) * size / 1000


def fit(
    raw: str, font: str, size: float, max_width: float, min_size: float = 6.0
) -> tuple[str, float, float]:
    """Text, size and width: the size shrinks to fit, down to `min_size`, then
    the text is cut with an ellipsis."""
    limit = max_width * 1000  # widths are in 1/1000 of the font size
    units = _units(raw, font)
    if units * size <= limit:
        return raw, size, units * size / 1000
    # Rounded down to what the content stream prints (2 decimals), so it still fits.
    size = max(min_size, math.floor(limit / units * 100) / 100)
    if units * size <= limit:
        return raw, size, units * size / 1000
    ellipsis = char_width(font, ELLIPSIS)
    budget = limit / size - ellipsis
    while raw and units > budget:
        units -= char_width(font, raw[-1])
        raw = raw[:-1]
    return raw + ELLIPSIS, size, (units + ellipsis) * size / 1000


def wrap(raw: str, font: str, size: float, max_width: float, indent: float = 0.0) -> list[str]:
    """Text broken into lines no wider than `max_width`, nothing left out.

    Runs of white space collapse to one space, as in a platypus Paragraph; lines break
    between words, and a word wider than a whole line is broken between characters
    (Chinese and Japanese, written without spaces, break there too). No text, no lines.
    `indent` (points) is what the first line already holds before this text, in another
    font (the space between them included): the first line takes less, and is empty when
    not even the first word fits after it.
    """
    limit = max_width * 1000 / size
    words = raw.split()
    joined = " ".join(words)
    used = indent * 1000 / size
    if used + _units(joined, font) <= limit:
        return [joined] if joined else []
    space = char_width(font, SPACE)
    lines: list[str] = []
    line: list[str] = []
    indented = used > 0
    for word in words:
        units = _units(word, font)
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
            lines.append("")
        elif line:
            lines.append(" ".join(line))
        if units <= limit:
            line, used = [word], units
            continue
        start, used = 0, 0.0
        for index, char in enumerate(word):
            advance = char_width(font, char)
            if used + advance > limit and index > start:
                lines.append(word[start:index])
                start, used = index, 0.0
            used += advance
        line = [word[start:]]
    if line:
        lines.append(" ".join(line))
    return lines


def escape(raw: bytes) -> str:
    """A PDF literal string body, kept to printable ASCII (octal escapes)."""
    text = raw.decode("latin-1")
    if text.isascii() and text.isprintable():
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return "".join(c if " " <= c <= "~" and c not in "\\()" else f"\\{ord(c):03o}" for c in text)


def runs(raw: str, font: str) -> list[tuple[str, str]]:
    """The text cut where the font it is drawn in changes: (font, text) pairs."""
    standard = _standard(font)
    if all(map(standard.__contains__, raw)):
        return [(font, raw)]
    found: list[tuple[str, str]] = []
    for char in raw:
        drawn = font_of(font, char)
        if found and found[-1][0] == drawn:
            found[-1] = (drawn, found[-1][1] + char)
        else:
            found.append((drawn, char))
    return found


class Text:
    """Lines of text on one page, collected into one BT/ET block.

    `fill` is the PDF fill-colour operator of the block's text ("0 g": black); a line
    may name another `color` operator for itself.
    """

    def __init__(self, canvas: Canvas, fill: str = "0 g") -> None:
        self.canvas = canvas
        # A standard font's internal name, looked up on first use: registering a font puts
        # it in the document's font resources, so a document lists only the fonts it uses.
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
        raw: str,
        x: float,
        y: float,
        font: str,
        size: float,
        width: float | None = None,
        *,
        align: str = "left",
        color: str | None = None,
    ) -> None:
        """One line of text as it is (already fitted or wrapped); `width` saves measuring
        it again when it is aligned right or centred."""
        if not raw:
            return
        if align != "left":
            if width is None:
                width = _units(raw, font) * size / 1000
            x -= width if align == "right" else width / 2
        found = runs(raw, font)
        if len(found) == 1 and found[0][0] == font:
            # The common case: a line all in the standard font, as one operator.
            name = self.names.get(font) or self._register(font)
            op = f"{name} {size:.2f} Tf 1 0 0 1 {x:.2f} {y:.2f} Tm ({_literal(raw)}) Tj"
        else:
            op = self._mixed(found, x, y, font, size)
        # The colour operator goes out only where it changes.
        color = color or self.fill
        if color != self.color:
            self.color = color
            op = f"{color} {op}"
        self.ops.append(op)

    def _mixed(
        self, found: list[tuple[str, str]], x: float, y: float, font: str, size: float
    ) -> str:
        doc = self.canvas._doc
        parts = [f"1 0 0 1 {x:.2f} {y:.2f} Tm"]
        for drawn, run in found:
            if drawn == font:
                name = self.names.get(font) or self._register(font)
                parts.append(f"{name} {size:.2f} Tf ({_literal(run)}) Tj")
                continue
            ttf = _font(drawn)
            # A subset holds 256 glyphs: a run may span several, each its own font name.
            for subset, encoded in ttf.splitString(run, doc):
                name = ttf.getSubsetInternalName(subset, doc)
                parts.append(f"{name} {size:.2f} Tf ({escape(encoded)}) Tj")
        return " ".join(parts)

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
