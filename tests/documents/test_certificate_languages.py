"""The relocation and installation certificates in the customer's language: the sentence
each certifies and the footer read in German and French when parsed back."""

from __future__ import annotations

from io import BytesIO

from pypdf import PdfReader

from documents.certificates import (
    render_installation_certificate,
    render_relocation_certificate,
)
from presentation.document_words import localised
from presentation.i18n import translator
from tests.documents.test_certificates import relocation
from tests.documents.test_installation_certificate import installation


def flat_text(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(BytesIO(pdf)).pages)


def test_a_german_relocation_certificate_certifies_in_german() -> None:
    de = translator("de-DE")
    data = relocation()
    text = flat_text(render_relocation_certificate(localised(data, de), de))
    assert (
        "Hiermit wird bescheinigt, dass das unten aufgeführte Gerät deinstalliert, an seinen "
        "neuen Standort gebracht, wieder installiert und in Betrieb genommen wurde"
    ) in text
    assert f"Zertifikat {data.certificate_number} · Umzug {data.relocation_number}" in text
    assert "This certifies" not in text


def test_a_french_installation_certificate_certifies_in_french() -> None:
    fr = translator("fr-FR")
    data = installation()
    text = flat_text(render_installation_certificate(localised(data, fr), fr))
    assert (
        "Nous certifions que l\N{RIGHT SINGLE QUOTATION MARK}appareil ci-dessous a été "
        "installé sur le site indiqué ici et mis en service"
    ) in text
    assert f"Certificat {data.certificate_number} · Installation {data.installation_number}" in text
    assert "This certifies" not in text
