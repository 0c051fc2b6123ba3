"""Who reads a case's words: the language, clock and paper of its customer's pages, emails
and documents. The customer's own locale and time zone when they gave them, else their
retailer's defaults, else English on UTC (`presentation.i18n.negotiate`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from presentation.i18n import Translator, negotiate, translator, zone


@dataclass(frozen=True)
class Reader:
    """A case's reader: their words and formats, and the paper their documents print on."""

    t: Translator
    paper_size: str = "Letter"


def reader_of(
    locale: str | None,
    time_zone: str | None,
    org: models.Organisation | None,
) -> Reader:
    """The reader from what the case's customer gave (either may be empty) and their
    retailer's defaults."""
    if org is None:
        return chosen_reader(locale, time_zone, None, None, None)
    return chosen_reader(
        locale, time_zone, org.default_locale, org.default_time_zone, org.paper_size
    )


def chosen_reader(
    locale: str | None,
    time_zone: str | None,
    default_locale: str | None,
    default_time_zone: str | None,
    paper_size: str | None,
) -> Reader:
    """The reader from the customer's choices over the retailer's defaults, as columns (a
    caller that read them with the case needs no statement of its own)."""
    t = translator(negotiate(locale, default_locale), zone(time_zone, default_time_zone))
    return Reader(t, paper_size=paper_size or "Letter")


_ORG = models.Organisation.__table__.c
_CUSTOMER = models.CustomerRecord.__table__.c
_CASE = models.Case.__table__.c
_CHOICES = (
    _CUSTOMER.locale,
    _CUSTOMER.time_zone,
    _ORG.default_locale,
    _ORG.default_time_zone,
    _ORG.paper_size,
)
# Built once, values bound at execution: columns only, no Organisation object loaded.
_CASE_READER = (
    select(*_CHOICES)
    .select_from(models.Organisation.__table__)
    .outerjoin(models.CustomerRecord.__table__, _CUSTOMER.id == bindparam("customer_id"))
    .where(_ORG.id == bindparam("org_id"))
)
_DOCUMENT_READER = (
    select(*_CHOICES)
    .select_from(models.Organisation.__table__)
    .outerjoin(models.Case.__table__, _CASE.id == bindparam("case_id"))
    .outerjoin(models.CustomerRecord.__table__, _CUSTOMER.id == _CASE.customer_id)
    .where(_ORG.id == bindparam("org_id"))
)


async def case_reader(session: AsyncSession, org_id: str, customer_id: str | None) -> Reader:
    """The reader of a case, in one statement: its customer's choices over its retailer's."""
    values = {"org_id": org_id, "customer_id": customer_id or ""}
    row = (await session.execute(_CASE_READER, values)).first()
    return chosen_reader(*row) if row is not None else reader_of(None, None, None)


async def document_reader(session: AsyncSession, org_id: str, case_id: str) -> Reader:
    """The reader of a case's documents, in one statement (a case not recorded yet reads
    with its retailer's defaults)."""
    values = {"org_id": org_id, "case_id": case_id}
    row = (await session.execute(_DOCUMENT_READER, values)).first()
    return chosen_reader(*row) if row is not None else reader_of(None, None, None)
