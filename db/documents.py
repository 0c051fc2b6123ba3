"""Issued documents (labels, slips, certificates) as the read model lists them; their
bytes are in `db.document_store`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import models


async def document_and_case(
    session: AsyncSession, document_id: str
) -> tuple[models.Document, models.Case] | None:
    """The document and the case it belongs to, or None."""
    document = await session.get(models.Document, document_id)
    case = await session.get(models.Case, document.case_id) if document else None
    return None if document is None or case is None else (document, case)


async def tracking_tokens_opening(session: AsyncSession, case: models.Case) -> list[str]:
    """The case's own tracking token, and that of the case it was started for (the RMA of a
    repair or replacement, the plan of a claim) when the same organisation owns it."""
    tokens = [case.tracking_token]
    for parent_link in ("rma_id", "service_plan_id"):
        parent_id = case.links.get(parent_link)
        parent = await session.get(models.Case, parent_id) if parent_id else None
        if parent is not None and parent.org_id == case.org_id:
            tokens.append(parent.tracking_token)
    return tokens


async def certificate(session: AsyncSession, verification_code: str) -> models.Document | None:
    """The document issued with this verification code (codes are stored upper case)."""
    return await session.scalar(
        select(models.Document).where(models.Document.verification_code == verification_code)
    )
