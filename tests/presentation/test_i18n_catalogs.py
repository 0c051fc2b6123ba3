"""The German and French catalogs are complete for every customer-facing string: what
`make translations` extracts today (babel.cfg: tracking page, portal, emails, PDFs,
campaign offers, the bank page) is in each catalog, translated in every plural form, not
fuzzy, and with the same placeholders as the English."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from presentation.i18n import LOCALES_DIR

ROOT = Path(__file__).resolve().parents[2]
# A template's `{% trans %}` variables: its translation must name exactly these.
TEMPLATE_VARIABLE = re.compile(r"%\([a-z_]+\)[sd]")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The strings marked in the code now, extracted as `make translations` does."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [
            *(str(pybabel), "extract", "-F", "babel.cfg", "-k", "N_", "-k", "pgettext:1c,2"),
            *("--project", "aftersales", "-o", str(pot), "."),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        return read_po(handle)


def catalog(language: str) -> Catalog:
    with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def forms(message: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """A message's or translation's forms (one unless it has plurals)."""
    if isinstance(message, tuple | list):
        return tuple(message)
    return (message or "",)


@pytest.mark.parametrize("language", ["de", "fr"])
def test_every_customer_facing_string_is_translated(extracted: Catalog, language: str) -> None:
    translated = catalog(language)
    missing, fuzzy, empty, placeholders = [], [], [], []
    for message in extracted:
        if not message.id:
            continue
        found = translated.get(message.id, message.context)
        key = forms(message.id)[0]
        if found is None:
            missing.append(key)
            continue
        if found.fuzzy:
            fuzzy.append(key)
        strings = forms(found.string)
        if not all(strings) or len(strings) != (
            translated.num_plurals if found.pluralizable else 1
        ):
            empty.append(key)
        wanted = set(TEMPLATE_VARIABLE.findall(" ".join(forms(message.id))))
        if any(set(TEMPLATE_VARIABLE.findall(s)) != wanted for s in strings if s):
            placeholders.append(key)
    assert missing == [], f"not in the {language} catalog (run `make translations`)"
    assert fuzzy == [], f"fuzzy in the {language} catalog"
    assert empty == [], f"untranslated in the {language} catalog"
    assert placeholders == [], f"a {language} translation names a variable the English lacks"


def test_staff_pages_are_not_extracted(extracted: Catalog) -> None:
    """The console is staff-facing and in English: none of its words need translating."""
    config = (ROOT / "babel.cfg").read_text()
    assert "api/console" not in config
    assert all(
        not str(location).startswith("api/console") for m in extracted for location in m.locations
    )
