"""The look every A4/Letter document shares (packing slips, certificates): the palette, and
how their pages are written."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from io import BytesIO
from typing import Any, Final, Protocol

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, letter
from reportlab.pdfgen.canvas import Canvas

# Uncompressed: reportlab's pure-Python ASCII85 step costs a third of a render, and the
# bytes (stored by SHA-256) cannot change between zlib builds.
PAGE_COMPRESSION = 0

INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#5f6368")
RULE = colors.HexColor("#c8c8c8")
HEADER_FILL = colors.HexColor("#e8eaed")
STRIPE = colors.HexColor("#f6f7f8")


# ------------------------------------------------------------------ words and paper
#
# The renderers cannot read the message catalogs (presentation/ is above them); whoever
# calls them (activities.documents) passes the reader's `Words`, a
# `presentation.i18n.Translator`, and the renderer speaks through `_` while it draws.
# Strings defined at module level are marked with `N_` and translated where drawn.


class Words(Protocol):
    def gettext(self, message: str) -> str: ...


class _English:
    def gettext(self, message: str) -> str:
        return message


ENGLISH: Final[Words] = _English()
_WORDS: ContextVar[Words] = ContextVar("document_words", default=ENGLISH)
_PAPER: ContextVar[str] = ContextVar("document_paper", default="Letter")


def N_(message: str) -> str:
    return message


def _(message: str) -> str:
    """`message` in the words of the document being drawn."""
    return _WORDS.get().gettext(message)


@contextmanager
def speaking(words: Words, paper: str = "Letter") -> Iterator[None]:
    """Draw the document inside in `words`, on `paper` (A4 or Letter)."""
    words_token, paper_token = _WORDS.set(words), _PAPER.set(paper)
    try:
        yield
    finally:
        _WORDS.reset(words_token)
        _PAPER.reset(paper_token)


def current_paper() -> str:
    return _PAPER.get()


# A4 or US Letter: the documents are laid out on Letter; on A4 the layout is scaled to
# A4's width (97 %) and kept at the top of the page, so every page breaks where it did.
PAPER_SIZES: Final[Mapping[str, tuple[float, float]]] = {"Letter": letter, "A4": A4}


class PaperCanvas(Canvas):  # type: ignore[misc]
    """A canvas for a Letter layout on `paper`."""

    def __init__(self, buffer: BytesIO, paper: str = "Letter", **options: Any) -> None:
        size = PAPER_SIZES.get(paper, letter)
        super().__init__(buffer, pagesize=size, **options)
        scale = size[0] / letter[0]
        lift = size[1] - letter[1] * scale
        self._layout = (
            ""
            if paper not in PAPER_SIZES or paper == "Letter"
            else (f"{scale:.5f} 0 0 {scale:.5f} 0 {lift:.2f} cm")
        )

    def showPage(self) -> None:
        if self._layout and self._code:
            # Everything the page drew, QR codes and links included, through one matrix.
            self._code.insert(0, f"q {self._layout}")
            self._code.append("Q")
        super().showPage()
