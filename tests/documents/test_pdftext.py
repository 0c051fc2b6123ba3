"""Line breaking from the standard fonts' widths: nothing lost, nothing wider than asked."""

from __future__ import annotations

from itertools import pairwise

from reportlab.pdfbase.pdfmetrics import stringWidth

from documents.pdftext import BOLD, REGULAR, encode, width, wrap


def test_width_is_what_reportlab_measures() -> None:
    for font in (REGULAR, BOLD):
        text = "Espresso machine, Zoë's (c/o Müller) 42 €"
        assert width(encode(text), font, 9) == stringWidth(text, font, 9)


def test_text_that_fits_stays_one_line_with_white_space_collapsed() -> None:
    assert wrap(b"Water tank", REGULAR, 9, 200) == [b"Water tank"]
    assert wrap(b"  Water \n tank\t", REGULAR, 9, 200) == [b"Water tank"]
    assert wrap(b"", REGULAR, 9, 200) == []
    assert wrap(b" \n ", REGULAR, 9, 200) == []


def test_long_text_breaks_between_words_and_keeps_every_word() -> None:
    text = " ".join(f"word{i}" for i in range(60)).encode()
    lines = wrap(text, REGULAR, 9, 100)
    assert len(lines) > 5
    assert b" ".join(lines) == text
    assert all(width(line, REGULAR, 9) <= 100 for line in lines)
    # Greedy: no line could have taken the next line's first word.
    for line, following in pairwise(lines):
        first = following.split()[0]
        assert width(line + b" " + first, REGULAR, 9) > 100


def test_a_word_wider_than_the_line_is_broken_between_characters() -> None:
    serial = b"SN" + b"0123456789" * 8
    lines = wrap(b"serial " + serial + b" end", BOLD, 9, 60)
    assert lines[0] == b"serial"
    assert len(lines) > 3
    assert b"".join(lines).replace(b" ", b"") == b"serial" + serial + b"end"
    assert all(width(line, BOLD, 9) <= 60 for line in lines)


def test_an_indented_first_line_takes_less_and_may_hold_nothing() -> None:
    text = " ".join(f"word{i}" for i in range(40)).encode()
    lines = wrap(text, REGULAR, 9, 100, indent=60)
    assert b" ".join(lines) == text
    assert width(lines[0], REGULAR, 9) <= 40
    assert all(width(line, REGULAR, 9) <= 100 for line in lines)
    assert len(wrap(text, REGULAR, 9, 100)[0]) > len(lines[0])
    # Not even the first word fits after the indent: the first line holds nothing.
    assert wrap(b"word0 word1", REGULAR, 9, 100, indent=90) == [b"", b"word0 word1"]
    assert wrap(b"word0", REGULAR, 9, 100, indent=10) == [b"word0"]
