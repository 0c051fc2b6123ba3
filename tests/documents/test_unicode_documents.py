"""Documents in any script and language: names in Polish and Japanese come back out of the
PDF character for character (Helvetica where WinAnsi has the character, else DejaVu, else
Droid Sans Fallback for the CJK glyphs), the
fixed words and dates are the reader's, and slips and certificates print on the retailer's
paper (labels stay 4x6 in)."""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO
from typing import Any

import pytest
from pypdf import PdfReader

from documents.certificates import render_coverage_certificate, render_repair_certificate
from documents.labels import render_label
from documents.packing_slip import render_packing_slip
from domain.documents import CoverageCertificateData, PackingSlipData, SlipItem
from presentation.document_words import localised
from presentation.i18n import translator
from tests.documents.test_certificates import certificate
from tests.documents.test_labels import CUSTOMER, label

NAMES = ["Zoë Łukasiewicz", "山田太郎"]


def pages_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def page_size(pdf: bytes) -> tuple[float, float]:
    box = PdfReader(BytesIO(pdf)).pages[0].mediabox
    return round(float(box.width)), round(float(box.height))


def embedded_fonts(pdf: bytes) -> set[str]:
    reader = PdfReader(BytesIO(pdf))
    fonts: Any = reader.pages[0]["/Resources"].get_object()["/Font"]  # type: ignore[index]
    return {str(fonts[name].get_object()["/BaseFont"]) for name in fonts}


@pytest.mark.parametrize("name", NAMES)
def test_a_label_prints_the_customers_name_exactly(name: str) -> None:
    pdf = render_label(label(from_address=replace(CUSTOMER, name=name, city="Kraków")))
    text = pages_text(pdf)
    assert name in text
    assert "Kraków" in text
    assert page_size(pdf) == (288, 432)


@pytest.mark.parametrize("name", NAMES)
def test_a_certificate_prints_the_customers_name_exactly(name: str) -> None:
    pdf = render_repair_certificate(certificate(customer_first_name=name))
    assert f"Issued to {name}" in pages_text(pdf)


def test_only_what_the_standard_fonts_cannot_print_is_drawn_in_an_embedded_font() -> None:
    fonts = embedded_fonts(render_label(label(from_address=replace(CUSTOMER, name="山田太郎"))))
    assert "/Helvetica-Bold" in fonts and "/Helvetica" in fonts
    assert any(font.endswith("DroidSansFallback") for font in fonts), fonts
    assert not any("DejaVu" in font for font in fonts), fonts
    fonts = embedded_fonts(render_label(label(from_address=replace(CUSTOMER, name=NAMES[0]))))
    assert any(font.endswith("DejaVuSansCondensed-Bold") for font in fonts), fonts
    assert not any("DroidSansFallback" in font for font in fonts), fonts


WESTERN = "Zoë Jäger-Straße, Café Müller, 12,50 €"


def test_western_european_text_embeds_no_font_and_reads_back_exactly() -> None:
    """English, German and French print in Helvetica (WinAnsi), as before Unicode: no font
    program in the file, and the accents, ß and € read back as written."""
    pdf = render_label(
        label(from_address=replace(CUSTOMER, name="Zoë Jäger", line1="Café Müller, Straße 5"))
    )
    assert embedded_fonts(pdf) == {"/Helvetica", "/Helvetica-Bold"}
    assert b"/FontFile" not in pdf
    text = pages_text(pdf)
    assert "Zoë Jäger" in text and "Café Müller, Straße 5" in text
    pdf = render_repair_certificate(certificate(customer_first_name=WESTERN))
    assert b"/FontFile" not in pdf
    assert f"Issued to {WESTERN}" in pages_text(pdf)
    # One character outside WinAnsi changes the font of that character only.
    pdf = render_repair_certificate(certificate(customer_first_name=WESTERN + " Ł"))
    assert f"Issued to {WESTERN} Ł" in pages_text(pdf)
    assert b"/FontFile" in pdf


def test_a_german_label_and_certificate() -> None:
    de = translator("de-DE")
    text = pages_text(render_label(localised(label(), de), de))
    assert "RÜCKSENDEETIKETT" in text and "EMPFÄNGER" in text and "ABSENDER" in text
    data = localised(certificate(customer_first_name="Zoë Łukasiewicz"), de)
    text = pages_text(render_repair_certificate(data, de))
    assert "Reparaturzertifikat" in text
    assert "Ausgestellt für Zoë Łukasiewicz" in text
    # The workflow's "7 December 2026" written the German way.
    assert "7. Dezember 2026" in text and "7 December 2026" not in text


def test_a_french_packing_slip_on_a4() -> None:
    fr = translator("fr-FR")
    slip = PackingSlipData(
        case_number="RMA-2026-000123",
        order_ref="SO-1001",
        retailer_name="Boutique Élodie",
        customer_first_name="Zoë",
        items=[SlipItem("EM-400", "Machine à expresso", "SN1", 1, "defective")],
        tracking_number="AS1234567890123456",
        ship_by="7 December 2026",
        instructions=[
            "Put this slip inside the parcel with the items listed.",
            "Hand the parcel to UPS by 7 December 2026.",
        ],
    )
    pdf = render_packing_slip(localised(slip, fr), fr, "A4")
    assert page_size(pdf) == (595, 842)
    text = pages_text(pdf)
    assert "Bordereau d\u2019envoi" in text
    assert "Préparé pour Zoë" in text
    assert "7 décembre 2026" in text
    assert "Remettez le colis à UPS avant le 7 décembre 2026." in text
    # Letter stays Letter.
    assert page_size(render_packing_slip(slip)) == (612, 792)


def test_a_certificate_on_a4_and_its_amounts_with_the_currencys_decimals() -> None:
    data = CoverageCertificateData(
        certificate_number="CC-2026-000001",
        plan_number="PLAN-2026-000001",
        retailer_name="山田電機",
        plan_name="Care 2y",
        plan_code="CARE2",
        owner_name="山田太郎",
        product_name="炊飯器",
        sku="RC-1",
        serial="SN-9",
        term_starts_on="1 December 2026",
        term_ends_on="1 December 2028",
        claim_limit="2 claims per 12 months",
        deductibles=[("Accidental", "1234 JPY"), ("Theft", "1.500 KWD")],
        incidents=["accidental damage"],
        issued_for="山田太郎",
        verification_code="CC-7K3M-9QXA-2BHD",
        verify_url="https://aftersales.example.com/v1/verify/CC-7K3M-9QXA-2BHD",
    )
    de = translator("de-DE")
    pdf = render_coverage_certificate(localised(data, de), de, "A4")
    assert page_size(pdf) == (595, 842)
    # Words as read, whatever line a narrow box broke them onto.
    text = " ".join(pages_text(pdf).replace("\xa0", " ").split())
    assert "Ausgestellt für 山田太郎" in text
    assert "1.234 ¥" in text
    assert "1,500 KWD" in text
    assert "2 Schadensfälle je 12 Monate" in text
