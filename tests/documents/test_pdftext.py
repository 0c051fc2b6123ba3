"""Line breaking from the drawn fonts' widths: nothing lost, nothing wider than asked; what
the standard font cannot print is measured (and drawn) in DejaVu, or in the fallback font."""

from __future__ import annotations

from itertools import pairwise

import pytest
from reportlab.pdfbase.pdfmetrics import stringWidth

from documents.pdftext import (
    BOLD,
    FALLBACK,
    REGULAR,
    UNICODE,
    encode,
    font_of,
    runs,
    width,
    wrap,
)


def test_width_is_what_reportlab_measures_in_the_font_drawn() -> None:
    for font in (REGULAR, BOLD):
        # All in WinAnsi: the standard font's widths, as before Unicode.
        text = "Espresso machine, Zoë's (c/o Müller, Straße) 42 € …"
        assert width(encode(text), font, 9) == pytest.approx(stringWidth(text, font, 9))
        # "Ł" is not in WinAnsi: it alone is measured in DejaVu (registered on first use).
        assert font_of(font, "Ł") == UNICODE[font]
        expected = (
            stringWidth("Zoë ", font, 9)
            + stringWidth("Ł", UNICODE[font], 9)
            + stringWidth("ukasiewicz", font, 9)
        )
        assert width("Zoë Łukasiewicz", font, 9) == pytest.approx(expected)


def test_each_character_is_drawn_in_the_first_font_that_prints_it() -> None:
    assert [font_of(REGULAR, c) for c in "eë€…"] == [REGULAR] * 4
    assert font_of(REGULAR, "Ł") == UNICODE[REGULAR]
    assert font_of(BOLD, "Ł") == UNICODE[BOLD]
    assert font_of(REGULAR, "山") == FALLBACK
    # Consecutive characters in one font are one run.
    assert runs("Zoë Müller 42 €", REGULAR) == [(REGULAR, "Zoë Müller 42 €")]
    assert runs("Zoë Łukasiewicz", REGULAR) == [
        (REGULAR, "Zoë "),
        (UNICODE[REGULAR], "Ł"),
        (REGULAR, "ukasiewicz"),
    ]
    assert runs("Mr 山田太郎 (JP)", REGULAR) == [
        (REGULAR, "Mr "),
        (FALLBACK, "山田太郎"),
        (REGULAR, " (JP)"),
    ]
    assert width("山田", REGULAR, 10) == pytest.approx(stringWidth("山田", FALLBACK, 10))


def test_text_that_fits_stays_one_line_with_white_space_collapsed() -> None:
    assert wrap("Water tank", REGULAR, 9, 200) == ["Water tank"]
    assert wrap("  Water \n tank\t", REGULAR, 9, 200) == ["Water tank"]
    assert wrap("", REGULAR, 9, 200) == []
    assert wrap(" \n ", REGULAR, 9, 200) == []


def test_long_text_breaks_between_words_and_keeps_every_word() -> None:
    text = " ".join(f"word{i}" for i in range(60))
    lines = wrap(text, REGULAR, 9, 100)
    assert len(lines) > 5
    assert " ".join(lines) == text
    assert all(width(line, REGULAR, 9) <= 100 for line in lines)
    # Greedy: no line could have taken the next line's first word.
    for line, following in pairwise(lines):
        first = following.split()[0]
        assert width(line + " " + first, REGULAR, 9) > 100


def test_a_word_wider_than_the_line_is_broken_between_characters() -> None:
    serial = "SN" + "0123456789" * 8
    lines = wrap("serial " + serial + " end", BOLD, 9, 60)
    assert lines[0] == "serial"
    assert len(lines) > 3
    assert "".join(lines).replace(" ", "") == "serial" + serial + "end"
    assert all(width(line, BOLD, 9) <= 60 for line in lines)


def test_an_indented_first_line_takes_less_and_may_hold_nothing() -> None:
    text = " ".join(f"word{i}" for i in range(40))
    lines = wrap(text, REGULAR, 9, 100, indent=60)
    assert " ".join(lines) == text
    assert width(lines[0], REGULAR, 9) <= 40
    assert all(width(line, REGULAR, 9) <= 100 for line in lines)
    assert len(wrap(text, REGULAR, 9, 100)[0]) > len(lines[0])
    # Not even the first word fits after the indent: the first line holds nothing.
    assert wrap("word0 word1", REGULAR, 9, 100, indent=90) == ["", "word0 word1"]
    assert wrap("word0", REGULAR, 9, 100, indent=10) == ["word0"]
