"""The packing slip: Letter pages, every fact and item present, long lists, determinism."""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO

import pypdfium2 as pdfium
from pypdf import PdfReader

from documents.packing_slip import render_packing_slip
from domain.documents import PackingSlipData, SlipItem
from tests.documents.barcodes import PDFIUM

INSTRUCTIONS = [
    "Pack the unit in its original box, or a sturdy box with padding on every side.",
    "Put this packing slip inside the box.",
    "Attach the return label to the outside of the box.",
]


def slip(**changes: object) -> PackingSlipData:
    data = PackingSlipData(
        case_number="RMA-2026-000123",
        order_ref="ORD-88412",
        retailer_name="Acme Home Appliances",
        customer_first_name="Jane",
        items=[
            SlipItem(
                sku="EM-400",
                description="Espresso machine",
                serial="SN0012345678",
                quantity=1,
                reason="Pump leaks",
            ),
            SlipItem(sku="TANK-2", description="Water tank", serial="SN0099887766", quantity=2),
        ],
        tracking_number="AS1234567890123456",
        ship_by="2026-12-07",
        instructions=list(INSTRUCTIONS),
    )
    return replace(data, **changes)  # type: ignore[arg-type]


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(BytesIO(pdf)).pages]


def test_page_is_us_letter() -> None:
    for page in PdfReader(BytesIO(render_packing_slip(slip()))).pages:
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (612, 792)


def test_carries_case_order_items_tracking_and_instructions() -> None:
    [text] = pages_text(render_packing_slip(slip()))
    for expected in (
        "Packing slip",
        "RMA-2026-000123",
        "ORD-88412",
        "Acme Home Appliances",
        "Prepared for Jane",
        "AS1234567890123456",
        "Ship by 2026-12-07",
        "EM-400",
        "Espresso machine",
        "SN0012345678",
        "Pump leaks",
        "TANK-2",
        "Water tank",
        "SN0099887766",
        "Instructions",
    ):
        assert expected in text, expected
    # One row per item, the quantity in its own cell between serial and reason.
    words = " ".join(text.split())
    assert "EM-400 Espresso machine SN0012345678 1 Pump leaks" in words
    assert "TANK-2 Water tank SN0099887766 2" in words
    for number, step in enumerate(INSTRUCTIONS, start=1):
        assert f"{number}." in text
        assert step.split(",")[0] in text


def test_same_input_same_bytes() -> None:
    assert render_packing_slip(slip()) == render_packing_slip(slip())
    assert render_packing_slip(slip()) != render_packing_slip(slip(ship_by="2026-12-08"))


def test_metadata_is_fixed() -> None:
    info = PdfReader(BytesIO(render_packing_slip(slip()))).metadata
    assert info is not None
    assert info.title == "Packing slip RMA-2026-000123"
    assert info.creator == "aftersales"


def test_long_item_list_flows_onto_more_pages() -> None:
    items = [
        SlipItem(
            sku=f"SKU-{i:04d}",
            description=f"Replacement part number {i}",
            serial=f"SN{i:010d}",
            quantity=1 + i % 3,
            reason="Defective",
        )
        for i in range(90)
    ]
    texts = pages_text(render_packing_slip(slip(items=items)))
    assert len(texts) >= 3
    everything = "\n".join(texts)
    for i in range(90):
        assert f"SKU-{i:04d}" in everything
        assert f"SN{i:010d}" in everything
    for number, text in enumerate(texts, start=1):
        assert f"Page {number}" in text
        assert "Case RMA-2026-000123" in text
    # The column header repeats wherever the table continues.
    assert all("Description" in text for text in texts[:-1])
    assert "Instructions" in texts[-1]


def test_markup_characters_are_printed_as_text() -> None:
    odd = SlipItem(
        sku="A&B<1>",
        description="Tank <large> & lid",
        serial="S/N 7",
        quantity=1,
        reason='Says "broken"',
    )
    [text] = pages_text(render_packing_slip(slip(items=[odd], customer_first_name="Zoë")))
    assert "A&B<1>" in text
    assert "Tank <large> & lid" in text
    assert 'Says "broken"' in text
    assert "Prepared for Zoë" in text


def test_no_items_and_no_instructions() -> None:
    [text] = pages_text(render_packing_slip(slip(items=[], instructions=[])))
    assert "No items." in text
    assert "Instructions" not in text


def ink_outside_margins(pdf: bytes) -> list[tuple[int, str]]:
    """(page, side) wherever something is painted left or right of the content area
    (the 0.75 in margins), i.e. text that ran out of its column."""
    found = []
    with PDFIUM:
        document = pdfium.PdfDocument(pdf)
        try:
            for number in range(len(document)):
                image = document[number].render(scale=1).to_pil().convert("L")
                for side, box in (("left", (0, 0, 53, 792)), ("right", (559, 0, 612, 792))):
                    low, _ = image.crop(box).getextrema()
                    if low < 250:
                        found.append((number + 1, side))
        finally:
            document.close()
    return found


def test_a_long_description_wraps_in_its_column_and_nothing_is_cut() -> None:
    words = [f"word{i}" for i in range(120)]
    serial = "SN" + "0123456789" * 6  # one "word" wider than the serial column
    item = SlipItem(
        sku="LONG-1",
        description=" ".join(words),
        serial=serial,
        quantity=3,
        reason="Arrived with a cracked drip tray and a missing steam wand cover",
    )
    pdf = render_packing_slip(slip(items=[item, *slip().items]))
    [text] = pages_text(pdf)
    for word in words:
        assert word in text, word
    assert serial in "".join(text.split())
    assert "Arrived with a cracked drip tray and a missing steam wand cover" in " ".join(
        text.split()
    )
    # The following rows come after the tall one, in order.
    assert text.index("word119") < text.index("EM-400") < text.index("TANK-2")
    assert ink_outside_margins(pdf) == []


def test_a_row_taller_than_a_page_continues_on_the_next_and_nothing_is_cut() -> None:
    words = [f"w{i}" for i in range(1500)]
    item = SlipItem(sku="HUGE-1", description=" ".join(words), serial="SN1", quantity=1)
    pdf = render_packing_slip(slip(items=[item, *slip().items]))
    texts = pages_text(pdf)
    assert len(texts) >= 2
    everything = "\n".join(texts)
    for word in words:
        assert f"{word}\n" in everything or f"{word} " in everything, word
    assert "Description" in texts[1]  # the header repeats where the row continues
    assert everything.index("w1499") < everything.index("EM-400")
    assert ink_outside_margins(pdf) == []


def test_sixty_items_with_wrapped_cells_span_pages_in_order() -> None:
    items = [
        SlipItem(
            sku=f"PART-{i:03d}",
            description=f"Part {i}" + " with a description long enough to wrap" * (i % 4),
            serial=f"SN{i:08d}",
            quantity=i,
            reason="Cracked" + " and scratched on the left side panel" * (i % 3),
        )
        for i in range(60)
    ]
    pdf = render_packing_slip(slip(items=items))
    texts = pages_text(pdf)
    assert len(texts) >= 3
    everything = "\n".join(texts)
    positions = [everything.index(f"PART-{i:03d}") for i in range(60)]
    assert positions == sorted(positions)
    for i in range(60):
        assert f"SN{i:08d}" in everything
    for number, text in enumerate(texts, start=1):
        assert f"Page {number}" in text
        assert "Case RMA-2026-000123" in text
        assert "Description" in text or number == len(texts)
    # The quantity of every row is printed.
    words = " ".join(everything.split())
    assert "PART-059 Part 59" in words and "SN00000059 59" in words
    assert ink_outside_margins(pdf) == []


def test_long_names_wrap_instead_of_running_off_the_page() -> None:
    retailer = "Acme Home Appliances and Kitchen Equipment International Holdings Group"
    data = slip(
        retailer_name=retailer,
        customer_first_name="Maximiliana-Konstantina-Bartholomea " * 4,
        order_ref="ORD-" + "7" * 60,
    )
    pdf = render_packing_slip(data)
    [text] = pages_text(pdf)
    joined = " ".join(text.split())
    assert retailer in joined
    assert "Prepared for Maximiliana-Konstantina-Bartholomea" in joined
    assert "ORD-" + "7" * 60 in "".join(text.split())
    assert ink_outside_margins(pdf) == []
