"""The reader's language, clock and money: catalogs compiled at first use, negotiation
from the case's locale to the retailer's to English, dates on the reader's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from jinja2 import DictLoader, Environment

from presentation.i18n import (
    canonical_locale,
    canonical_time_zone,
    install_jinja,
    negotiate,
    translator,
)

MOMENT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def test_a_case_locale_wins_over_the_retailer_default_and_english_is_the_last_resort() -> None:
    assert negotiate("de-DE", "fr-FR") == "de-DE"
    assert negotiate(None, "fr-FR") == "fr-FR"
    assert negotiate("", None) == "en"
    assert negotiate("xx-nonsense", "fr") == "fr"


@pytest.mark.parametrize("tag", ["de-DE", "fr", "zh-Hant-TW", "en-US", "ja-JP"])
def test_bcp47_tags_known_to_cldr_are_accepted(tag: str) -> None:
    assert canonical_locale(tag) == tag


@pytest.mark.parametrize("tag", ["", "xx-YY-ZZ", "de DE", "de-DE\n", "../../etc", "a" * 40])
def test_other_tags_are_refused(tag: str) -> None:
    with pytest.raises(ValueError):
        canonical_locale(tag if tag != "de-DE\n" else "de-DE\x00")


def test_time_zones_are_iana_names() -> None:
    assert canonical_time_zone("Europe/Berlin") == "Europe/Berlin"
    for bad in ("Mars/Olympus", "../etc/passwd", ""):
        with pytest.raises(ValueError):
            canonical_time_zone(bad)


def test_german_and_french_words_dates_and_money() -> None:
    de = translator("de-DE", "Europe/Berlin")
    fr = translator("fr-FR", "Europe/Paris")
    assert de.datetime(MOMENT, today=date(2026, 1, 1)) == "7. Dezember um 10:30 CET"
    assert fr.datetime(MOMENT, today=date(2026, 1, 1)) == "7 décembre à 10:30 CET"
    assert de.money(Decimal("1234.5"), "EUR") == "1.234,50\xa0€"
    assert fr.money(Decimal("1234.5"), "EUR") == "1\u202f234,50\xa0€"


def test_english_keeps_the_house_style_on_utc() -> None:
    en = translator(None)
    assert en.datetime(MOMENT, today=date(2026, 1, 1)) == "7 December at 09:30 UTC"
    assert en.date(MOMENT) == "7 December 2026"
    assert en.money(Decimal("90"), "USD") == "$90.00"


def test_a_language_without_a_catalog_reads_wholly_in_english() -> None:
    es = translator("es-ES")
    assert es.locale == "en"
    assert es.datetime(MOMENT, today=date(2026, 1, 1)) == "7 December at 09:30 UTC"


def test_a_time_zone_moves_the_day() -> None:
    late = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    assert translator("en", "Asia/Tokyo").date(late) == "8 December 2026"
    assert translator("en", "America/New_York").date(late) == "7 December 2026"


@pytest.mark.parametrize(
    ("locale", "currency", "amount", "expected"),
    [
        ("en", "JPY", "1234", "¥1,234"),
        ("de-DE", "JPY", "1234", "1.234\xa0¥"),
        ("en", "KWD", "1.5", "KWD\xa01.500"),
        ("de-DE", "KWD", "1.5", "1,500\xa0KWD"),
    ],
)
def test_money_has_exactly_the_currency_minor_units(
    locale: str, currency: str, amount: str, expected: str
) -> None:
    assert translator(locale).money(Decimal(amount), currency) == expected


def test_one_jinja_environment_renders_each_reader_in_their_language() -> None:
    env = Environment(
        loader=DictLoader(
            {"t.html": "{{ _('{date} at {time} {zone}') }}|{% trans %}x{% endtrans %}"}
        ),
        autoescape=True,
    )
    install_jinja(env)
    template = env.get_template("t.html")
    assert template.render(i18n=translator("de")) == "{date} um {time} {zone}|x"
    assert template.render(i18n=translator("fr")) == "{date} à {time} {zone}|x"
    assert template.render() == "{date} at {time} {zone}|x"
