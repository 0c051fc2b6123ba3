"""The Certificate of Repair: Letter pages, every field present, QR, long parts lists,
markup characters, determinism."""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO

from pypdf import PdfReader

from documents.certificates import render_repair_certificate
from domain.documents import CertificatePart, RepairCertificateData
from tests.documents.barcodes import decode_barcodes

VERIFY_URL = "https://aftersales.example.com/v1/verify/RC7K-9XQ2-M4TD"


def certificate(**changes: object) -> RepairCertificateData:
    data = RepairCertificateData(
        certificate_number="CR-2026-000481",
        job_number="JOB-2026-001377",
        retailer_name="Acme Home Appliances",
        repair_center_name="Northside Repair Center",
        customer_first_name="Jane",
        product_name="Espresso machine EM-400",
        sku="EM-400",
        serial="SN0012345678",
        fault_code="F-PUMP-07",
        fault="Pump leaks under pressure",
        work_done="Replaced the pump and its gasket; descaled the boiler; pressure tested.",
        parts=[
            CertificatePart(part_no="P-1001", description="Vibration pump 15 bar", quantity=1),
            CertificatePart(part_no="G-0042", description="Pump gasket", quantity=2),
        ],
        qa_passed_on="7 December 2026",
        repair_warranty_until="7 March 2027",
        verification_code="RC7K-9XQ2-M4TD",
        verify_url=VERIFY_URL,
    )
    return replace(data, **changes)  # type: ignore[arg-type]


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(BytesIO(pdf)).pages]


def words(text: str) -> str:
    return " ".join(text.split())


def test_pages_are_us_letter() -> None:
    for page in PdfReader(BytesIO(render_repair_certificate(certificate()))).pages:
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (612, 792)


def test_carries_every_field() -> None:
    [text] = pages_text(render_repair_certificate(certificate()))
    flat = words(text)
    for expected in (
        "Certificate of Repair",
        "CR-2026-000481",
        "JOB-2026-001377",
        "Acme Home Appliances",
        "Northside Repair Center",
        "Issued to Jane",
        "Espresso machine EM-400",
        "EM-400",
        "SN0012345678",
        "F-PUMP-07",
        "Pump leaks under pressure",
        "Replaced the pump and its gasket; descaled the boiler; pressure tested.",
        "7 December 2026",
        "7 March 2027",
        "RC7K-9XQ2-M4TD",
        f"Verify at {VERIFY_URL}",
    ):
        assert expected in flat, expected
    # One row per part, the quantity in its own cell after the description.
    assert "P-1001 Vibration pump 15 bar 1" in flat
    assert "G-0042 Pump gasket 2" in flat
    assert "No parts replaced" not in flat


def test_no_parts_replaced() -> None:
    [text] = pages_text(render_repair_certificate(certificate(parts=[])))
    assert "No parts replaced" in text


def test_same_input_same_bytes() -> None:
    assert render_repair_certificate(certificate()) == render_repair_certificate(certificate())
    assert render_repair_certificate(certificate()) != render_repair_certificate(
        certificate(qa_passed_on="8 December 2026")
    )


def test_metadata_is_fixed() -> None:
    info = PdfReader(BytesIO(render_repair_certificate(certificate()))).metadata
    assert info is not None
    assert info.title == "Certificate of Repair CR-2026-000481"
    assert info.creator == "aftersales"


def test_qr_code_scans_to_the_verify_url() -> None:
    pdf = render_repair_certificate(certificate())
    assert ("QRCode", VERIFY_URL) in decode_barcodes(pdf, dpi=150)


def test_markup_characters_are_printed_as_text() -> None:
    pdf = render_repair_certificate(
        certificate(
            retailer_name="Smith & Sons <Outlet>",
            customer_first_name="Zoë",
            fault="Leak > 5 ml & noise",
            work_done="Fixed <b>seal</b> & tested",
            parts=[CertificatePart(part_no="A&B<1>", description="Lid <large>", quantity=1)],
        )
    )
    [text] = pages_text(pdf)
    flat = words(text)
    for expected in (
        "Smith & Sons <Outlet>",
        "Issued to Zoë",
        "Leak > 5 ml & noise",
        "Fixed <b>seal</b> & tested",
        "A&B<1>",
        "Lid <large>",
    ):
        assert expected in flat, expected


def test_long_parts_list_flows_onto_more_pages() -> None:
    parts = [
        CertificatePart(part_no=f"PN-{i:04d}", description=f"Replacement part {i}", quantity=1)
        for i in range(60)
    ]
    pdf = render_repair_certificate(certificate(parts=parts))
    texts = pages_text(pdf)
    assert len(texts) >= 2
    everything = words("\n".join(texts))
    for i in range(60):
        assert f"PN-{i:04d} Replacement part {i} 1" in everything
    for number, text in enumerate(texts, start=1):
        assert f"Page {number}" in text
        assert "Certificate CR-2026-000481" in text
    # The column header repeats wherever the table continues; the certificate
    # closes with the verification box, QR code included.
    assert all("Description" in text for text in texts[1:])
    assert "RC7K-9XQ2-M4TD" in texts[-1]
    assert ("QRCode", VERIFY_URL) in decode_barcodes(pdf, page=len(texts) - 1, dpi=150)
