"""The Certificate of Repair, the Relocation & Installation Certificate and the
Certificate of Coverage: Letter pages, every field present, QR, long parts lists,
checklists and incident lists, markup characters, determinism."""

from __future__ import annotations

import re
from dataclasses import replace
from io import BytesIO

import pypdfium2 as pdfium
from pypdf import PdfReader

from documents.certificates import (
    render_coverage_certificate,
    render_relocation_certificate,
    render_repair_certificate,
)
from domain.common import Address
from domain.documents import (
    CertificatePart,
    ChecklistLine,
    CoverageCertificateData,
    RelocationCertificateData,
    RepairCertificateData,
)
from tests.documents.barcodes import PDFIUM, decode_barcodes

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


# The Relocation & Installation Certificate.

RELOCATION_VERIFY_URL = "https://aftersales.example.com/v1/verify/RL4P-7WN3-K2HC"


def relocation(**changes: object) -> RelocationCertificateData:
    data = RelocationCertificateData(
        certificate_number="RI-2026-000215",
        relocation_number="REL-2026-000093",
        retailer_name="Acme Home Appliances",
        provider_name="Metro Install Services",
        customer_first_name="Jane",
        product_name="Built-in oven BO-600",
        sku="BO-600",
        serial="SN0098765432",
        from_site=Address(
            name="Jane Doe",
            line1="12 Elm Street",
            line2="Apartment 4B",
            city="Springfield",
            region="IL",
            postal_code="62701",
            country="US",
        ),
        to_site=Address(
            line1="48 Oak Avenue",
            line2="Unit 7",
            city="Shelbyville",
            region="IN",
            postal_code="46176",
            country="US",
        ),
        technician="Sam Rivera",
        uninstalled_on="3 December 2026",
        delivered_on="5 December 2026",
        commissioned_on="7 December 2026",
        uninstall_checklist=[
            ChecklistLine(item="Power isolated", passed=True),
            ChecklistLine(item="Door secured for transport", passed=True, note="Taped twice"),
        ],
        reinstall_checklist=[
            ChecklistLine(item="Cabinet cut-out fits", passed=True),
            ChecklistLine(item="Anti-tip bracket fitted", passed=False, note="Bracket missing"),
        ],
        commissioning_checklist=[
            ChecklistLine(item="Reaches 200 C in 12 minutes", passed=True),
            ChecklistLine(item="Earth continuity test", passed=True, note="0.08 ohm"),
        ],
        verification_code="RL4P-7WN3-K2HC",
        verify_url=RELOCATION_VERIFY_URL,
    )
    return replace(data, **changes)  # type: ignore[arg-type]


def test_relocation_pages_are_us_letter() -> None:
    pdf = render_relocation_certificate(relocation())
    for page in PdfReader(BytesIO(pdf)).pages:
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (612, 792)


def test_relocation_carries_every_field() -> None:
    texts = pages_text(render_relocation_certificate(relocation()))
    flat = words("\n".join(texts))
    for expected in (
        "Relocation & Installation Certificate",
        # Each value under its label.
        "CERTIFICATE NUMBER RI-2026-000215",
        "RELOCATION NUMBER REL-2026-000093",
        "PROVIDER Metro Install Services",
        "RETAILER Acme Home Appliances",
        "TECHNICIAN Sam Rivera",
        "CUSTOMER Jane",
        "PRODUCT Built-in oven BO-600",
        "SKU BO-600",
        "SERIAL NUMBER SN0098765432",
        # Both sites, every line of each.
        "FROM SITE Jane Doe 12 Elm Street Apartment 4B Springfield, IL 62701 US",
        "TO SITE 48 Oak Avenue Unit 7 Shelbyville, IN 46176 US",
        "UNINSTALLED ON 3 December 2026",
        "DELIVERED ON 5 December 2026",
        "COMMISSIONED ON 7 December 2026",
        "RL4P-7WN3-K2HC",
        f"Verify at {RELOCATION_VERIFY_URL}",
    ):
        assert expected in flat, expected
    for heading in ("Uninstall checklist", "Reinstall checklist", "Commissioning checklist"):
        assert heading in flat, heading
    # One row per check: item, result, note.
    assert "Power isolated Passed" in flat
    assert "Door secured for transport Passed Taped twice" in flat
    assert "Cabinet cut-out fits Passed" in flat
    assert "Anti-tip bracket fitted Failed Bracket missing" in flat
    assert "Reaches 200 C in 12 minutes Passed" in flat
    assert "Earth continuity test Passed 0.08 ohm" in flat
    assert "No checks recorded" not in flat
    for number, text in enumerate(texts, start=1):
        assert f"Page {number}" in text
        assert "Certificate RI-2026-000215" in text
        assert "Relocation REL-2026-000093" in text


def test_relocation_empty_checklist() -> None:
    texts = pages_text(render_relocation_certificate(relocation(reinstall_checklist=[])))
    assert "No checks recorded" in "\n".join(texts)


def test_relocation_same_input_same_bytes() -> None:
    pdf = render_relocation_certificate(relocation())
    assert pdf == render_relocation_certificate(relocation())
    assert pdf != render_relocation_certificate(relocation(commissioned_on="8 December 2026"))


def test_relocation_metadata_is_fixed() -> None:
    info = PdfReader(BytesIO(render_relocation_certificate(relocation()))).metadata
    assert info is not None
    assert info.title == "Relocation & Installation Certificate RI-2026-000215"
    assert info.creator == "aftersales"


def test_relocation_qr_code_scans_to_the_verify_url() -> None:
    pdf = render_relocation_certificate(relocation())
    last = len(PdfReader(BytesIO(pdf)).pages) - 1
    assert ("QRCode", RELOCATION_VERIFY_URL) in decode_barcodes(pdf, page=last, dpi=150)


def test_relocation_markup_characters_are_printed_as_text() -> None:
    pdf = render_relocation_certificate(
        relocation(
            provider_name="Lift & Shift <Pro>",
            technician="A. <b>Smith</b>",
            from_site=Address(
                name="Smith & Sons",
                line1="1 <Main> St",
                city="Springfield",
                postal_code="1",
                country="US",
            ),
            commissioning_checklist=[
                ChecklistLine(item="Gas leak test", passed=True, note="Leak < 1 ppm & stable"),
                ChecklistLine(item="Level <check>", passed=True, note="<i>ok</i> & done"),
            ],
        )
    )
    flat = words("\n".join(pages_text(pdf)))
    for expected in (
        "Lift & Shift <Pro>",
        "A. <b>Smith</b>",
        "Smith & Sons",
        "1 <Main> St",
        "Gas leak test Passed Leak < 1 ppm & stable",
        "Level <check> Passed <i>ok</i> & done",
    ):
        assert expected in flat, expected


def test_long_checklist_flows_onto_more_pages() -> None:
    checks = [
        ChecklistLine(item=f"Check {i:03d}", passed=i % 7 != 0, note=f"Note {i}")
        for i in range(120)
    ]
    pdf = render_relocation_certificate(relocation(commissioning_checklist=checks))
    texts = pages_text(pdf)
    assert len(texts) >= 2
    everything = words("\n".join(texts))
    for i in range(120):
        result = "Failed" if i % 7 == 0 else "Passed"
        assert f"Check {i:03d} {result} Note {i}" in everything
    for number, text in enumerate(texts, start=1):
        assert f"Page {number}" in text
        assert "Certificate RI-2026-000215" in text
        assert "Relocation REL-2026-000093" in text
    # The column header repeats wherever the checklist continues; the certificate
    # closes with the dates and the verification box, QR code included.
    continued = [text for text in texts[1:] if "Check " in text]
    assert continued
    assert all("Item Result Note" in words(text) for text in continued)
    assert "7 December 2026" in texts[-1]
    assert "RL4P-7WN3-K2HC" in texts[-1]
    assert ("QRCode", RELOCATION_VERIFY_URL) in decode_barcodes(pdf, page=len(texts) - 1, dpi=150)


# The Certificate of Coverage.

COVERAGE_VERIFY_URL = "https://aftersales.example.com/v1/verify/CV3M-8HT5-Q9LZ"


def coverage(**changes: object) -> CoverageCertificateData:
    data = CoverageCertificateData(
        certificate_number="CC-2026-000318",
        plan_number="PLN-2026-004512",
        retailer_name="Acme Home Appliances",
        plan_name="Complete Care 3 Years",
        plan_code="CC3Y",
        owner_name="Jane Q. Doe",
        product_name="Espresso machine EM-400",
        sku="EM-400",
        serial="SN0012345678",
        term_starts_on="7 December 2026",
        term_ends_on="6 December 2029",
        claim_limit="2 claims per 12 months",
        deductibles=[("Repair", "49.00 USD"), ("Replacement", "99.00 USD")],
        incidents=[
            "Mechanical and electrical breakdown",
            "Accidental damage from handling",
            "Power surge",
        ],
        issued_for="Activation",
        verification_code="CV3M-8HT5-Q9LZ",
        verify_url=COVERAGE_VERIFY_URL,
    )
    return replace(data, **changes)  # type: ignore[arg-type]


def test_coverage_pages_are_us_letter() -> None:
    pdf = render_coverage_certificate(coverage())
    for page in PdfReader(BytesIO(pdf)).pages:
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (612, 792)


def test_coverage_carries_every_field() -> None:
    texts = pages_text(render_coverage_certificate(coverage()))
    # The usual certificate fits on one page, verification box included.
    assert len(texts) == 1
    flat = words(texts[0])
    for expected in (
        "ACME HOME APPLIANCES",
        "Certificate of Coverage",
        "Issued for Activation",
        # Each value under its label.
        "CERTIFICATE NUMBER CC-2026-000318",
        "PLAN NUMBER PLN-2026-004512",
        "PLAN Complete Care 3 Years",
        "PLAN CODE CC3Y",
        "OWNER Jane Q. Doe",
        "RETAILER Acme Home Appliances",
        "PRODUCT Espresso machine EM-400",
        "SKU EM-400",
        "SERIAL NUMBER SN0012345678",
        "TERM STARTS ON 7 December 2026",
        "TERM ENDS ON 6 December 2029",
        "CLAIM LIMIT 2 claims per 12 months",
        "CV3M-8HT5-Q9LZ",
        f"Verify at {COVERAGE_VERIFY_URL}",
        "Certificate CC-2026-000318",
        "Plan PLN-2026-004512",
        "Page 1",
    ):
        assert expected in flat, expected
    # One row per deductible (claim type, then the amount) and per covered incident.
    assert "Claim type Deductible" in flat
    assert "Repair 49.00 USD" in flat
    assert "Replacement 99.00 USD" in flat
    assert "Covered incidents" in flat
    for incident in (
        "Mechanical and electrical breakdown",
        "Accidental damage from handling",
        "Power surge",
    ):
        assert incident in flat, incident
    assert "No deductibles apply" not in flat
    assert "No covered incidents listed" not in flat


def test_coverage_issued_for_renewal_and_transfer() -> None:
    for reason in ("Renewal", "Transfer"):
        [text] = pages_text(render_coverage_certificate(coverage(issued_for=reason)))
        assert f"Issued for {reason}" in words(text)


def test_coverage_no_deductibles_and_no_incidents() -> None:
    pdf = render_coverage_certificate(coverage(deductibles=[], incidents=[]))
    flat = words("\n".join(pages_text(pdf)))
    # A message spans the table instead of an empty body under the column headers.
    assert "Claim type Deductible No deductibles apply" in flat
    assert "Incident No covered incidents listed" in flat
    assert "USD" not in flat


def test_coverage_same_input_same_bytes() -> None:
    pdf = render_coverage_certificate(coverage())
    assert pdf == render_coverage_certificate(coverage())
    assert pdf != render_coverage_certificate(coverage(term_ends_on="7 December 2029"))


def test_coverage_metadata_is_fixed() -> None:
    info = PdfReader(BytesIO(render_coverage_certificate(coverage()))).metadata
    assert info is not None
    assert info.title == "Certificate of Coverage CC-2026-000318"
    assert info.subject == "Plan PLN-2026-004512, serial SN0012345678"
    assert info.creator == "aftersales"


def test_coverage_qr_code_scans_to_the_verify_url() -> None:
    pdf = render_coverage_certificate(coverage())
    last = len(PdfReader(BytesIO(pdf)).pages) - 1
    assert ("QRCode", COVERAGE_VERIFY_URL) in decode_barcodes(pdf, page=last, dpi=150)


def test_coverage_markup_characters_are_printed_as_text() -> None:
    pdf = render_coverage_certificate(
        coverage(
            retailer_name="Smith & Sons <Outlet>",
            plan_name="Care <Plus> & More",
            plan_code="C&P<3>",
            owner_name="Zoë <b>O'Brien</b> & Co",
            product_name="Kettle <K-1> & base",
            claim_limit="< 3 claims & counting",
            deductibles=[("Repair & <parts>", "49.00 <USD>")],
            incidents=["Spills & <drops>", "<i>Surge</i> & brownout"],
            issued_for="Transfer & <renewal>",
        )
    )
    flat = words("\n".join(pages_text(pdf)))
    for expected in (
        "SMITH & SONS <OUTLET>",
        "RETAILER Smith & Sons <Outlet>",
        "PLAN Care <Plus> & More",
        "PLAN CODE C&P<3>",
        "OWNER Zoë <b>O'Brien</b> & Co",
        "Kettle <K-1> & base",
        "< 3 claims & counting",
        "Repair & <parts> 49.00 <USD>",
        "Spills & <drops>",
        "<i>Surge</i> & brownout",
        "Issued for Transfer & <renewal>",
    ):
        assert expected in flat, expected


def test_long_incident_list_flows_onto_more_pages() -> None:
    incidents = [f"Covered incident {i:03d}" for i in range(80)]
    pdf = render_coverage_certificate(coverage(incidents=incidents))
    texts = pages_text(pdf)
    assert len(texts) >= 2
    everything = words("\n".join(texts))
    for incident in incidents:
        assert incident in everything, incident
    for number, text in enumerate(texts, start=1):
        assert f"Page {number}" in text
        assert "Certificate CC-2026-000318" in text
        assert "Plan PLN-2026-004512" in text
    # The column header repeats wherever the list continues; the certificate closes
    # with the verification box, QR code included.
    continued = [text for text in texts[1:] if "Covered incident " in text]
    assert continued
    assert all("Incident Covered incident" in words(text) for text in continued)
    assert "CV3M-8HT5-Q9LZ" in texts[-1]
    assert ("QRCode", COVERAGE_VERIFY_URL) in decode_barcodes(pdf, page=len(texts) - 1, dpi=150)


# What laying the certificates out by hand could break: values wrap inside their own
# cells and boxes and nothing is cut, long lists and texts continue on the next page in
# order, headings stay with what they head.

PAGE_HEIGHT = 792
CONTENT = (61.2, 550.8)  # the content area's left and right edges (0.85 in margins)
INNER_BORDER = 34.5  # just inside the inner border line, from each page edge


def ink(pdf: bytes, page: int, box: tuple[float, float, float, float]) -> bool:
    """Whether text or a rule is painted in `box` (left, bottom, right, top in points):
    anything darker than the tints of panels, stripes and table headers."""
    left, bottom, right, top = box
    with PDFIUM:
        document = pdfium.PdfDocument(pdf)
        try:
            image = document[page].render(scale=1).to_pil().convert("L")
        finally:
            document.close()
    low, _ = image.crop(
        (round(left), round(PAGE_HEIGHT - top), round(right), round(PAGE_HEIGHT - bottom))
    ).getextrema()
    return bool(low < 225)


def overflow(pdf: bytes) -> list[tuple[int, str]]:
    """(page, where) wherever something is painted between the inner border and the
    content area (text run out of its column), or between the content area and the
    footer (text run past the bottom of the page)."""
    found = []
    top = PAGE_HEIGHT - INNER_BORDER - 2
    for page in range(len(PdfReader(BytesIO(pdf)).pages)):
        for where, box in (
            ("left", (INNER_BORDER + 2, INNER_BORDER + 2, CONTENT[0] - 2, top)),
            ("right", (CONTENT[1] + 2, INNER_BORDER + 2, 612 - INNER_BORDER - 2, top)),
            ("footer", (CONTENT[0], 60.0, CONTENT[1], 70.0)),
        ):
            if ink(pdf, page, box):
                found.append((page + 1, where))
    return found


def char_box(pdf: bytes, needle: str, page: int = 0) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of the first character of `needle` on `page`."""
    with PDFIUM:
        document = pdfium.PdfDocument(pdf)
        try:
            text_page = document[page].get_textpage()
            found = text_page.search(needle, match_case=True).get_next()
            assert found is not None, needle
            box: tuple[float, float, float, float] = text_page.get_charbox(found[0])
        finally:
            document.close()
    return box


def position(text: str, word: str) -> int:
    """Where `word` occurs in `text` as a whole word."""
    found = re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text)
    assert found is not None, word
    return found.start()


def page_of(texts: list[str], needle: str) -> int:
    return next(number for number, text in enumerate(texts) if needle in words(text))


def test_the_fault_code_and_the_fault_share_a_line() -> None:
    [text] = pages_text(render_repair_certificate(certificate()))
    # pypdf hears the gap between the code's font and the text's as a space, or not.
    lines = [re.sub(r"\s*\u2014\s*", " \u2014 ", line) for line in text.splitlines()]
    assert "F-PUMP-07 \u2014 Pump leaks under pressure" in lines


def test_long_names_wrap_inside_their_cells_and_nothing_is_cut() -> None:
    center = "Northside Appliance Repair and Refurbishment Center " * 4  # 200 characters
    product = "Espresso machine with twin boilers, rotary pump and steam wand " * 3
    serial = "SN" + "0123456789" * 10  # one word wider than its column
    data = certificate(
        repair_center_name=center.strip(),
        retailer_name="Acme Home Appliances and Kitchen Equipment International Group",
        customer_first_name="Maximiliana-Konstantina-Bartholomea " * 3,
        product_name=product.strip(),
        sku="SKU-" + "X" * 60,
        serial=serial,
        qa_passed_on="the seventh day of December in the year 2026, at the end of the day",
    )
    pdf = render_repair_certificate(data)
    texts = pages_text(pdf)
    flat = words("\n".join(texts))
    assert words(center.upper()) in flat
    assert f"REPAIR CENTER {words(center)}" in flat
    assert "Acme Home Appliances and Kitchen Equipment International Group" in flat
    assert f"Issued to {words(data.customer_first_name)}" in flat
    assert words(product) in flat
    squeezed = "".join(flat.split())
    assert serial in squeezed and "SKU-" + "X" * 60 in squeezed
    assert "the seventh day of December in the year 2026, at the end of the day" in flat
    assert overflow(pdf) == []
    # The product's lines stay in its part of the panel, clear of the SKU's column.
    sku_left = char_box(pdf, "SKU-XXX")[0]
    top = char_box(pdf, "PRODUCT")[3]
    bottom = char_box(pdf, "steam wand")[1]
    assert char_box(pdf, "Espresso machine with twin")[0] < sku_left
    assert not ink(pdf, 0, (sku_left - 12, bottom, sku_left - 2, top))


def test_long_fault_work_done_and_parts_continue_on_more_pages_in_order() -> None:
    fault_code = "F-" + "PUMP" * 25  # wider than the whole line
    fault = " ".join(f"fault{i}" for i in range(300))
    work_done = "\n".join(f"Step {i}: done{i} and checked{i}." for i in range(150))
    parts = [
        CertificatePart(
            part_no=f"PN-{i:03d}" + "-REV" * (i % 5),
            description=f"Part {i}" + " with a description long enough to wrap" * (i % 6),
            quantity=i + 1,
        )
        for i in range(100)
    ]
    pdf = render_repair_certificate(
        certificate(fault_code=fault_code, fault=fault, work_done=work_done, parts=parts)
    )
    texts = pages_text(pdf)
    assert len(texts) >= 4
    everything = "\n".join(texts)
    assert fault_code in "".join(everything.split())
    order = [position(everything, f"fault{i}") for i in range(300)]
    assert order == sorted(order)
    order = [position(everything, f"done{i}") for i in range(150)]
    assert order == sorted(order)
    assert everything.index("checked149.") < everything.index("Part no.")
    positions = [everything.index(f"PN-{i:03d}") for i in range(100)]
    assert positions == sorted(positions)
    squeezed = "".join(everything.split())
    for part in parts:
        # A part number wider than its column is broken between characters.
        assert f"{part.part_no}{''.join(part.description.split())}{part.quantity}" in squeezed
    # Every continuation of the parts table starts under its column header.
    first = page_of(texts, "PN-000")
    for text in texts[first + 1 :]:
        if "PN-" in text:
            assert "Part no. Description Qty" in words(text)
    for number, text in enumerate(texts, start=1):
        assert f"Page {number}" in text
    assert "RC7K-9XQ2-M4TD" in texts[-1]
    assert ("QRCode", VERIFY_URL) in decode_barcodes(pdf, page=len(texts) - 1, dpi=150)
    assert overflow(pdf) == []


def test_a_part_row_taller_than_a_page_continues_on_the_next() -> None:
    description = " ".join(f"w{i}" for i in range(1500))
    parts = [
        CertificatePart(part_no="HUGE-1", description=description, quantity=1),
        CertificatePart(part_no="AFTER-2", description="Pump gasket", quantity=2),
    ]
    pdf = render_repair_certificate(certificate(parts=parts))
    texts = pages_text(pdf)
    assert len(texts) >= 3
    everything = "\n".join(texts)
    order = [position(everything, f"w{i}") for i in range(1500)]
    assert order == sorted(order)
    assert everything.index("w1499") < everything.index("AFTER-2")
    assert all("Part no." in text for text in texts[1:-1])
    assert overflow(pdf) == []


def test_a_heading_never_ends_a_page_without_what_it_heads() -> None:
    """However long the text above it, "Parts" shares its page with the first part, and
    "Work done" with the first words of the work."""
    for count in range(0, 640, 8):
        work_done = " ".join(f"w{i}" for i in range(count)) or "Tested."
        texts = pages_text(render_repair_certificate(certificate(work_done=work_done)))
        parts = page_of(texts, "Parts Part no. Description Qty")
        assert "P-1001 Vibration pump 15 bar 1" in words(texts[parts]), count
        assert f"Work done {work_done.split()[0]}" in words("\n".join(texts)), count


def test_sites_wrap_inside_their_boxes() -> None:
    long_line = "Building " + "Seventeen " * 19  # 199 characters
    from_site = Address(
        name="Jane Doe of the Springfield Household Appliance Owners Association " * 2,
        line1="12 Elm Street, " + long_line,
        line2="Apartment 4B",
        city="Springfield",
        region="IL",
        postal_code="62701",
        country="US",
    )
    to_site = Address(
        line1="48 Oak Avenue " + long_line,
        city="Shelbyville",
        region="IN",
        postal_code="46176",
        country="US",
    )
    pdf = render_relocation_certificate(relocation(from_site=from_site, to_site=to_site))
    flat = words("\n".join(pages_text(pdf)))
    assert f"FROM SITE {words(from_site.name)} 12 Elm Street, {words(long_line)}" in flat
    assert "Apartment 4B Springfield, IL 62701 US" in flat
    assert f"TO SITE 48 Oak Avenue {words(long_line)} Shelbyville, IN 46176 US" in flat
    assert overflow(pdf) == []
    # Nothing in the gap between the two boxes, from the labels down to the last line.
    top = char_box(pdf, "FROM SITE")[3]
    bottom = char_box(pdf, "Shelbyville")[1]
    gap_left = CONTENT[0] + (CONTENT[1] - CONTENT[0] - 18) / 2
    assert not ink(pdf, 0, (gap_left + 2, bottom, gap_left + 16, top))


def test_a_checklist_kept_whole_starts_a_page_when_it_does_not_fit_below() -> None:
    """As with platypus's keepWithNext: a checklist that fits a page is not split."""
    checks = [ChecklistLine(item=f"Check {i:02d}", passed=True) for i in range(25)]
    texts = pages_text(render_relocation_certificate(relocation(commissioning_checklist=checks)))
    page = page_of(texts, "Commissioning checklist")
    assert page == 1
    assert "Check 00" in texts[page] and "Check 24" in texts[page]
    assert "Reinstall checklist" in texts[0]


def test_two_hundred_checks_with_long_notes_span_pages_in_order() -> None:
    note = "Measured at the socket, the breaker and the appliance; " * 36  # ~2000 chars
    checks = [
        ChecklistLine(
            item=f"Check {i:03d}" + " of the appliance" * (i % 3),
            passed=i % 9 != 0,
            note=note if i % 50 == 7 else f"Note {i}",
        )
        for i in range(200)
    ]
    pdf = render_relocation_certificate(relocation(commissioning_checklist=checks))
    texts = pages_text(pdf)
    everything = "\n".join(texts)
    positions = [everything.index(f"Check {i:03d}") for i in range(200)]
    assert positions == sorted(positions)
    flat = words(everything)
    for i in range(200):
        result = "Failed" if i % 9 == 0 else "Passed"
        assert f"Check {i:03d}" in flat and result in flat
    assert flat.count(words(note)) == 4
    for text in texts[page_of(texts, "Check 000") + 1 :]:
        if "Check " in text:
            assert "Item Result Note" in words(text)
    assert ("QRCode", RELOCATION_VERIFY_URL) in decode_barcodes(pdf, page=len(texts) - 1, dpi=150)
    assert overflow(pdf) == []


def test_coverage_long_values_wrap_inside_their_boxes() -> None:
    data = coverage(
        plan_name="Complete Care Plus Accidental Damage and Theft Protection " * 3,
        owner_name="Jane Quinn Doe-Richardson of Springfield " * 4,
        claim_limit="2 claims per 12 months, at most 5 over the whole term of the plan",
        deductibles=[("Repair of the unit at an authorised repair center " * 3, "49.00 USD")],
        incidents=[f"Covered incident {i:02d} " + "x" * 40 for i in range(50)],
    )
    pdf = render_coverage_certificate(data)
    texts = pages_text(pdf)
    flat = words("\n".join(texts))
    assert f"PLAN {words(data.plan_name)}" in flat
    assert f"OWNER {words(data.owner_name)}" in flat
    assert f"CLAIM LIMIT {data.claim_limit}" in flat
    assert f"{words(data.deductibles[0][0])} 49.00 USD" in flat
    for incident in data.incidents:
        assert incident in flat, incident
    assert overflow(pdf) == []
    # The claim limit wraps inside the third box: nothing in the gap before it.
    top = char_box(pdf, "CLAIM LIMIT")[3]
    bottom = char_box(pdf, "whole term")[1]
    third = CONTENT[0] + 2 * (CONTENT[1] - CONTENT[0] - 36) / 3 + 18
    assert not ink(pdf, 0, (third - 16, bottom, third - 2, top))
