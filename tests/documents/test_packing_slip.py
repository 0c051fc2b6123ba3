"""The packing slip: Letter pages, every fact and item present, long lists, determinism."""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO

from pypdf import PdfReader

from documents.packing_slip import render_packing_slip
from domain.documents import PackingSlipData, SlipItem

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
