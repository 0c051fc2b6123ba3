"""Return and shipping labels: page size, text, determinism, and barcodes that scan."""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO

import pytest
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from documents.labels import render_label
from documents.pdftext import BOLD, REGULAR, fit
from domain.common import Address
from domain.documents import LabelData
from tests.documents.barcodes import decode_barcodes

CUSTOMER = Address(
    name="Jane Q. Customer",
    line1="742 Evergreen Terrace",
    line2="Apt 3B",
    city="Springfield",
    region="IL",
    postal_code="62704",
    country="US",
)
RETURNS = Address(
    name="Returns Department",
    line1="1 Returns Way",
    line2="Dock 4",
    city="Riverton",
    region="OR",
    postal_code="97477",
    country="US",
)
# What the API hands out: a tracking page URL with a 32-character url-safe token.
TRACKING_URL = "http://127.0.0.1:8000/track/Qm9x_3kT-a9ZpLw2Vn7rXc4Yb8Hd1JfE"


def label(**changes: object) -> LabelData:
    data = LabelData(
        carrier="UPS",
        service="Ground",
        tracking_number="AS1234567890123456",
        case_number="RMA-2026-000123",
        from_address=CUSTOMER,
        to_address=RETURNS,
        tracking_url=TRACKING_URL,
        weight="2.4 kg",
    )
    return replace(data, **changes)  # type: ignore[arg-type]


def text_of(pdf: bytes) -> str:
    reader = PdfReader(BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


def test_page_is_4_by_6_inches() -> None:
    box = PdfReader(BytesIO(render_label(label()))).pages[0].mediabox
    assert (float(box.width), float(box.height)) == (288, 432)


def test_carries_carrier_case_tracking_and_both_addresses() -> None:
    text = text_of(render_label(label()))
    assert "RETURN LABEL" in text
    assert "UPS" in text and "GROUND" in text
    assert "RMA/CASE: RMA-2026-000123" in text
    assert "AS1234567890123456" in text
    assert "Track this return" in text
    assert "2.4 kg" in text
    for address in (CUSTOMER, RETURNS):
        for line in (address.name, address.line1, address.line2, address.country):
            assert line in text
        assert f"{address.city}, {address.region} {address.postal_code}" in text


def test_shipping_label_says_so() -> None:
    text = text_of(render_label(label(kind="shipping_label")))
    assert "SHIPPING LABEL" in text
    assert "RETURN LABEL" not in text
    assert "Track this shipment" in text


def test_same_input_same_bytes() -> None:
    assert render_label(label()) == render_label(label())
    assert render_label(label()) != render_label(label(case_number="RMA-2026-000124"))


def test_metadata_is_fixed() -> None:
    info = PdfReader(BytesIO(render_label(label()))).metadata
    assert info is not None
    assert info.title == "Return Label AS1234567890123456"
    assert info.creator == "aftersales"
    assert info.author == "aftersales"


def test_tracking_number_and_url_scan() -> None:
    found = decode_barcodes(render_label(label()))
    assert ("Code128", "AS1234567890123456") in found
    assert ("QRCode", TRACKING_URL) in found


@pytest.mark.parametrize(
    ("tracking_number", "url"),
    [
        ("1Z999AA10123456784", "https://returns.example.com/track/" + "x" * 40),
        ("9400111899223197428490", "http://127.0.0.1:8000/track/abc"),
        ("AB-12/cd.34", "http://127.0.0.1:8000/track/" + "Zz09_-" * 11),
    ],
)
def test_other_carrier_formats_scan(tracking_number: str, url: str) -> None:
    found = decode_barcodes(render_label(label(tracking_number=tracking_number, tracking_url=url)))
    assert ("Code128", tracking_number) in found
    assert ("QRCode", url) in found


def test_unusual_address_text_survives() -> None:
    odd = Address(
        name="Zoë O'Brien (c/o Müller)",
        line1=r"Flat 2\B",
        city="Saint-Étienne",
        postal_code="42000",
        country="FR",
    )
    text = text_of(render_label(label(from_address=odd)))
    assert "Zoë O'Brien (c/o Müller)" in text
    assert r"Flat 2\B" in text
    assert "Saint-Étienne, 42000" in text


def test_long_lines_shrink_then_cut_to_fit() -> None:
    long_name = (
        "Department of Returned Goods and Warranty Claims Processing, Building 7, "
        "North Campus, Attention: Receiving Supervisor"
    )
    text = text_of(render_label(label(to_address=replace(RETURNS, name=long_name))))
    assert "Department of Returned Goods" in text
    assert "\u2026" in text

    raw, size, width = fit("short", REGULAR, 11, 200)
    assert (raw, size) == ("short", 11)
    assert width == pytest.approx(stringWidth("short", REGULAR, 11))
    raw, size, width = fit("Returns Department West Coast Hub", BOLD, 13, 200)
    assert raw == "Returns Department West Coast Hub"
    assert 6 < size < 13 and width <= 200
    raw, size, width = fit(long_name, BOLD, 13, 200)
    assert raw.endswith("\u2026") and long_name.startswith(raw[:-1])
    assert size == 6 and width <= 200


def test_tracking_number_that_cannot_be_encoded_is_refused() -> None:
    with pytest.raises(ValueError, match="Code 128"):
        render_label(label(tracking_number="AS12\u00e9"))
    with pytest.raises(ValueError, match="Code 128"):
        render_label(label(tracking_number=""))
    with pytest.raises(ValueError, match="too long"):
        render_label(label(tracking_number="X" * 40))
