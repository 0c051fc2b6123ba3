"""The Installation Certificate parsed back: US Letter, every field under its label, both
checklists, the training as asked and given, fixed bytes and metadata, the QR code scans to
the verify URL, long checklists flow onto more pages and nothing runs out of its column."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from io import BytesIO

from pypdf import PdfReader

from documents.certificates import render_installation_certificate
from domain.appointments import ChecklistItem
from domain.common import Address, Customer, Policy
from domain.documents import ChecklistLine, InstallationCertificateData
from domain.installation import InstallationStart, installation_certificate
from tests.documents.barcodes import decode_barcodes
from tests.documents.test_certificates import overflow, pages_text, words

VERIFY_URL = "https://aftersales.example.com/v1/verify/IC-7K3M-9QXA-2BHD"


def installation(**changes: object) -> InstallationCertificateData:
    data = InstallationCertificateData(
        certificate_number="IC-2026-7K3M-9QXA",
        installation_number="INS-2026-7K3M-9QXA",
        retailer_name="Acme Dental Supply",
        provider_name="Metro Install Services",
        customer_first_name="Jane",
        product_name="Dental chair DC-9",
        sku="DC-9",
        serial="SN0011223344",
        site=Address(
            name="Riverside Clinic",
            line1="4 Harbour Quay",
            line2="Room 12",
            city="Bristol",
            region="Avon",
            postal_code="BS1 4RN",
            country="GB",
        ),
        technician="Sam Rivera",
        installed_on="3 December 2026",
        commissioned_on="4 December 2026",
        installation_checklist=[
            ChecklistLine(item="Chair anchored", passed=True, note="4 bolts"),
            ChecklistLine(item="Water line pressure", passed=True, note="2.1 bar"),
        ],
        commissioning_checklist=[ChecklistLine(item="Full movement cycle", passed=True)],
        training="Given",
        verification_code="IC-7K3M-9QXA-2BHD",
        verify_url=VERIFY_URL,
    )
    return replace(data, **changes)  # type: ignore[arg-type]


def test_pages_are_us_letter() -> None:
    for page in PdfReader(BytesIO(render_installation_certificate(installation()))).pages:
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (612, 792)


def test_carries_every_field() -> None:
    texts = pages_text(render_installation_certificate(installation()))
    flat = words("\n".join(texts))
    for expected in (
        "Installation Certificate",
        "CERTIFICATE NUMBER IC-2026-7K3M-9QXA",
        "INSTALLATION NUMBER INS-2026-7K3M-9QXA",
        "PROVIDER Metro Install Services",
        "RETAILER Acme Dental Supply",
        "TECHNICIAN Sam Rivera",
        "CUSTOMER Jane",
        "PRODUCT Dental chair DC-9",
        "SERIAL NUMBER SN0011223344",
        "SITE Riverside Clinic 4 Harbour Quay Room 12 Bristol, Avon BS1 4RN GB",
        "TRAINING Given",
        "Installation checklist",
        "Chair anchored Passed 4 bolts",
        "Water line pressure Passed 2.1 bar",
        "Commissioning checklist",
        "Full movement cycle Passed",
        "INSTALLED ON 3 December 2026",
        "COMMISSIONED ON 4 December 2026",
        "IC-7K3M-9QXA-2BHD",
        f"Verify at {VERIFY_URL}",
    ):
        assert expected in flat, expected
    assert "Relocation" not in flat
    for number, text in enumerate(texts, start=1):
        assert f"Page {number}" in text
        assert "Installation INS-2026-7K3M-9QXA" in text


def test_same_input_same_bytes_and_fixed_metadata() -> None:
    pdf = render_installation_certificate(installation())
    assert pdf == render_installation_certificate(installation())
    assert pdf != render_installation_certificate(installation(training="Not given"))
    info = PdfReader(BytesIO(pdf)).metadata
    assert info is not None
    assert info.title == "Installation Certificate IC-2026-7K3M-9QXA"
    assert info.creator == "aftersales"


def test_qr_code_scans_to_the_verify_url() -> None:
    pdf = render_installation_certificate(installation())
    last = len(PdfReader(BytesIO(pdf)).pages) - 1
    assert ("QRCode", VERIFY_URL) in decode_barcodes(pdf, page=last, dpi=150)


def test_long_checklist_flows_onto_more_pages_inside_the_border() -> None:
    checks = [
        ChecklistLine(item=f"Check {i:03d}", passed=i % 5 != 0, note=f"Note {i}")
        for i in range(100)
    ]
    pdf = render_installation_certificate(installation(installation_checklist=checks))
    texts = pages_text(pdf)
    assert len(texts) >= 2
    everything = words("\n".join(texts))
    for i in range(100):
        assert f"Check {i:03d} {'Failed' if i % 5 == 0 else 'Passed'} Note {i}" in everything
    assert "IC-7K3M-9QXA-2BHD" in texts[-1]
    assert overflow(pdf) == []


def _start(training: bool) -> InstallationStart:
    return InstallationStart(
        installation_id="INS-2026-7K3M-9QXA-2BHD-EF01",
        org_id="org",
        org_name="Acme Dental Supply",
        tracking_token="t",
        provider_org_id="prov",
        provider_name="Metro Install Services",
        sku="DC-9",
        serial="SN1",
        product_name="Dental chair DC-9",
        site=Address(line1="4 Harbour Quay", city="Bristol", postal_code="BS1", country="GB"),
        customer=Customer(name="Jane Doe"),
        training=training,
        policy=Policy(),
        public_base_url="https://aftersales.example.com",
    )


def test_the_certificate_says_what_training_was_asked_and_given() -> None:
    """From the workflow's facts to the printed words, for each case of the training."""
    checks = {"installation": [ChecklistItem("Chair anchored", True)]}
    day = {"installation": datetime(2026, 12, 3, 9, tzinfo=UTC)}
    for training, given, shown in (
        (True, True, "Given"),
        (True, False, "Not given"),
        (False, None, "Not requested"),
    ):
        data = installation_certificate(_start(training), "Sam", checks, day, given)
        assert (data.certificate_number, data.customer_first_name) == (
            "IC-2026-7K3M-9QXA-2BHD-EF01",
            "Jane",
        )
        assert (data.installed_on, data.commissioned_on) == ("3 December 2026", "")
        # The documents activity draws the code and its link.
        coded = replace(data, verification_code="IC-7K3M-9QXA-2BHD", verify_url=VERIFY_URL)
        flat = words("\n".join(pages_text(render_installation_certificate(coded))))
        assert f"TRAINING {shown}" in flat, shown
