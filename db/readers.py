"""Who reads a case's words: the language, clock and paper of its customer's pages, emails
and documents. The customer's own locale and time zone when they gave them, else their
retailer's defaults, else English on UTC (`presentation.i18n.negotiate`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
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
    default_locale = org.default_locale if org else None
    default_zone = org.default_time_zone if org else None
    t = translator(negotiate(locale, default_locale), zone(time_zone, default_zone))
    return Reader(t, paper_size=org.paper_size if org and org.paper_size else "Letter")


async def case_reader(session: AsyncSession, org_id: str, customer_id: str | None) -> Reader:
    """The reader of a case, in one statement: its customer's choices over its retailer's."""
    customer, org = models.CustomerRecord, models.Organisation
    row = (
        await session.execute(
            select(org, customer.locale, customer.time_zone)
            .select_from(org)
            .outerjoin(customer, customer.id == (customer_id or ""))
            .where(org.id == org_id)
        )
    ).first()
    if row is None:
        return reader_of(None, None, None)
    return reader_of(row[1], row[2], row[0])


async def document_reader(session: AsyncSession, org_id: str, case_id: str) -> Reader:
    """The reader of a case's documents, in one statement (a case not recorded yet reads
    with its retailer's defaults)."""
    case, customer, org = models.Case, models.CustomerRecord, models.Organisation
    row = (
        await session.execute(
            select(org, customer.locale, customer.time_zone)
            .select_from(org)
            .outerjoin(case, case.id == case_id)
            .outerjoin(customer, customer.id == case.customer_id)
            .where(org.id == org_id)
        )
    ).first()
    if row is None:
        return reader_of(None, None, None)
    return reader_of(row[1], row[2], row[0])
