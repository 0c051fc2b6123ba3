"""Languages, time zones and money for one reader: which catalog a case's words come from,
and how its dates, times and amounts are written.

Catalogs are `presentation/locales/<lang>/LC_MESSAGES/messages.po`, compiled in memory at
first use (no build step, nothing generated in the tree); `make translations` extracts the
marked strings (`babel.cfg`) and updates every catalog. A string with no translation reads
in English.

Usage::

    t = translator(negotiate(case_locale, retailer_locale), time_zone="Europe/Berlin")
    t.gettext("Your repair is complete")
    t.ngettext("{n} day", "{n} days", n).format(n=n)
    t.money(Decimal("1234"), "JPY")  # "¥1,234" in en, "1.234 ¥" in de
    t.date(moment), t.datetime(moment)  # in the reader's time zone

Templates: `install_jinja(env)` once, then render with `i18n=t` in the context; the
templates say `{{ _("...") }}`, `{% trans %}...{% endtrans %}` and `{{ i18n.money(...) }}`.
Constant tables of words mark their strings with `N_` (extraction only) and translate at
use with `t.gettext(value)`."""

from __future__ import annotations

import gettext as _gettext
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from domain.money import minor_units, quantize_minor

LOCALES_DIR: Final = Path(__file__).resolve().parent / "locales"
DEFAULT_LOCALE: Final = "en"
# The languages with a complete catalog; any other language reads in English.
LANGUAGES: Final = ("en", "de", "fr")
# The number part of a CLDR currency pattern (`#,##0.00`), its fraction replaced per currency.
# The method names `date` and `datetime` shadow the types inside the class.
_Day = date
_Moment = datetime
_CODE_THEN_DIGIT: Final = re.compile(r"([A-Za-z])(\d)")
_NUMBER: Final = re.compile(r"([#,0]*0)(?:\.[0#]+)?")


def N_(message: str) -> str:
    """Marks a string for extraction where it is defined (a table of words); it is
    translated where it is used."""
    return message


def canonical_locale(tag: str) -> str:
    """A BCP 47 tag (`de-DE`, `fr`, `zh-Hant-TW`) in its canonical spelling, or ValueError
    when babel (CLDR) does not know it."""
    text = tag.strip()
    if not text or len(text) > 35 or not all(c.isalnum() or c in "-_" for c in text):
        raise ValueError(f"not a language tag: {tag!r}")
    try:
        locale = Locale.parse(text, sep="-" if "-" in text else "_")
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown locale: {tag!r}") from exc
    return str(locale).replace("_", "-")


def canonical_time_zone(name: str) -> str:
    """An IANA time zone name (`Europe/Berlin`), or ValueError when there is none such."""
    text = name.strip()
    if not text or len(text) > 64 or ".." in text or text.startswith("/"):
        raise ValueError(f"not a time zone: {name!r}")
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone: {name!r}") from exc
    return text


def negotiate(*candidates: str | None) -> str:
    """The first usable locale of the candidates, most specific first (the case's, then the
    retailer's default), else English."""
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return canonical_locale(candidate)
        except ValueError:
            continue
    return DEFAULT_LOCALE


def zone(*candidates: str | None) -> tzinfo:
    """The first usable time zone of the candidates (the customer's or site's, then the
    retailer's default), else UTC."""
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return ZoneInfo(canonical_time_zone(candidate))
        except ValueError:
            continue
    return UTC


@dataclass(frozen=True)
class Translator:
    """One reader's words and formats: the catalog of their language, their locale's date and
    number conventions, their time zone."""

    locale: str
    catalog: _gettext.NullTranslations = field(repr=False)
    time_zone: tzinfo = UTC

    @property
    def language(self) -> str:
        return _locale(self.locale).language

    @property
    def _dates(self) -> Locale:
        # A bare "en" keeps the house style: "7 December 2026" (CLDR's "en" is American).
        return _locale("en-001" if self.locale == DEFAULT_LOCALE else self.locale)

    @property
    def _numbers(self) -> Locale:
        return _locale(self.locale)

    def gettext(self, message: str) -> str:
        return self.catalog.gettext(message) if message else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalog.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return self.catalog.pgettext(context, message)

    # ------------------------------------------------------------ formats

    def local(self, moment: _Moment) -> _Moment:
        """The moment on the reader's clock (a naive moment is taken as UTC)."""
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(self.time_zone)

    def date(self, moment: _Moment | _Day, *, year: bool = True, today: _Day | None = None) -> str:
        """`7 December 2026` / `7. Dezember 2026`, on the reader's calendar; without the year
        when `year` is False and the day falls in `today`'s year (a page's timeline)."""
        day = self.local(moment).date() if isinstance(moment, datetime) else moment
        if not year and today is not None and day.year == today.year:
            return format_skeleton("MMMMd", day, locale=self._dates)
        return format_date(day, "long", locale=self._dates)

    def time(self, moment: _Moment) -> str:
        """`09:30` (`9:30 AM` for en-US), on the reader's clock."""
        pattern = "HH:mm" if self.locale == DEFAULT_LOCALE else "short"
        return format_time(self.local(moment), pattern, locale=self._dates)

    def datetime(self, moment: _Moment, *, today: _Day | None = None) -> str:
        """`7 December at 09:30 UTC`: an appointment needs its day, its time and the zone
        that time is on. With `today`, the year only when it is not today's."""
        local = self.local(moment)
        day = self.date(local, year=today is None, today=today)
        return self.gettext("{date} at {time} {zone}").format(
            date=day, time=self.time(local), zone=self.zone_name(local)
        )

    def zone_name(self, moment: _Moment) -> str:
        """`UTC`, `CET`, `JST`: the abbreviation the zone uses at that moment."""
        name = self.local(moment).tzname() or "UTC"
        return "UTC" if name in ("UTC", "Etc/UTC") else name

    def money(self, amount: Decimal | str | int, currency: str) -> str:
        """`$90.00`, `¥1,234`, `KWD 1.500` (en); `90,00 $`, `1.234 ¥` (de): exactly the
        currency's ISO 4217 minor units (CLDR's display digits differ for a few)."""
        digits = minor_units(currency)
        value = quantize_minor(Decimal(str(amount)), currency)
        pattern = self._numbers.currency_formats["standard"].pattern.split(";")[0]
        fraction = "." + "0" * digits if digits else ""
        pattern = _NUMBER.sub(lambda m: m.group(1) + fraction, pattern, count=1)
        text = format_currency(
            value, currency, format=pattern, locale=self._numbers, currency_digits=False
        )
        # CLDR's currency spacing, which babel leaves out: a code is kept off the digits.
        return _CODE_THEN_DIGIT.sub("\\1\xa0\\2", text)

    def number(self, value: int | Decimal) -> str:
        return format_decimal(value, locale=self._numbers)


@cache
def _locale(tag: str) -> Locale:
    return Locale.parse(tag, sep="-")


@cache
def _catalog(language: str) -> _gettext.NullTranslations:
    """The language's catalog, its .po compiled to .mo in memory once per process."""
    po_path = LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LOCALE or not po_path.is_file():
        return _gettext.NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def translator(locale: str | None, time_zone: str | tzinfo | None = None) -> Translator:
    """The words and formats for `locale` (a BCP 47 tag; None or an unknown one reads as
    English). A language without a catalog keeps English words and formats, so a sentence
    never mixes two languages."""
    tag = negotiate(locale)
    language = _locale(tag).language
    if language not in LANGUAGES:
        tag = DEFAULT_LOCALE
        language = DEFAULT_LOCALE
    zone_info = time_zone if isinstance(time_zone, tzinfo) else zone(time_zone)
    return Translator(locale=tag, catalog=_catalog(language), time_zone=zone_info)


ENGLISH: Final = translator(None)


# ------------------------------------------------------------------ Jinja2


@pass_context
def _jinja_gettext(context: Context, message: str) -> str:
    return _reader(context).gettext(message)


@pass_context
def _jinja_ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return _reader(context).ngettext(singular, plural, n)


@pass_context
def _jinja_pgettext(context: Context, ctx: str, message: str) -> str:
    return _reader(context).pgettext(ctx, message)


def _reader(context: Context) -> Translator:
    found: Any = context.get("i18n")
    return found if isinstance(found, Translator) else ENGLISH


def install_jinja(env: Environment) -> None:
    """Gives `env`'s templates `_`, `gettext`, `ngettext` and `{% trans %}`, answered by
    the Translator each render passes as `i18n` (English when none): one environment
    serves every language at once, with no state shared between renders."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _jinja_gettext, _jinja_ngettext, newstyle=True, pgettext=_jinja_pgettext
    )
