"""Organisations' integrations: which carrier and payment provider each uses, with its
credentials encrypted by `db.secret_box`. Decrypted values leave this module only for the
adapter that calls the provider or the route that checks a provider's signature."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.secret_box import SecretBox, SecretUnreadable
from db.types import utcnow
from domain.integrations import BUILTIN, IntegrationKind


@dataclass(frozen=True)
class Credentials:
    """An integration's secrets in clear (repr hides them, so a log line cannot leak them)."""

    provider: str
    api_key: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)
    services: tuple[str, ...] = ()


async def integrations_of(session: AsyncSession, org_id: str) -> list[models.Integration]:
    """The organisation's configured integrations, carrier first."""
    rows = await session.scalars(
        select(models.Integration)
        .where(models.Integration.org_id == org_id)
        .order_by(models.Integration.kind)
    )
    return list(rows.all())


async def integration(
    session: AsyncSession, org_id: str, kind: IntegrationKind
) -> models.Integration | None:
    return await session.get(models.Integration, (org_id, kind.value))


async def put_integration(
    session: AsyncSession,
    box: SecretBox,
    org_id: str,
    kind: IntegrationKind,
    *,
    provider: str,
    api_key: str | None,
    webhook_secret: str | None,
    services: Sequence[str] | None,
) -> models.Integration:
    """Set the organisation's provider of `kind` (commits). The same settings again change
    nothing, not even `updated_at` (so the workers keep the adapter they hold). The built-in
    provider keeps no keys."""
    if provider == BUILTIN:
        api_key = webhook_secret = services = None
    wanted = Credentials(
        provider, api_key or "", webhook_secret or "", tuple(services) if services else ()
    )
    for attempt in range(2):
        row = await integration(session, org_id, kind)
        if row is not None and _unchanged(row, box, wanted):
            return row
        now = utcnow()
        if row is None:
            row = models.Integration(org_id=org_id, kind=kind.value, created_at=now)
            session.add(row)
        row.provider = provider
        row.api_key_encrypted = box.encrypt(api_key) if api_key else None
        row.webhook_secret_encrypted = box.encrypt(webhook_secret) if webhook_secret else None
        row.key_last4 = api_key[-4:] if api_key else None
        row.services = list(services) if services is not None else None
        row.updated_at = now
        try:
            await session.commit()
        except IntegrityError:
            # Another PUT for the same organisation and kind made the row first: the second
            # pass updates it.
            await session.rollback()
            if attempt:
                raise
            continue
        return row
    raise AssertionError("unreachable")


def _unchanged(row: models.Integration, box: SecretBox, wanted: Credentials) -> bool:
    try:
        return credentials(row, box) == wanted
    except SecretUnreadable:
        # Stored under a key since removed: the PUT brings the secrets again, so it is
        # written over rather than refused.
        return False


def credentials(row: models.Integration, box: SecretBox) -> Credentials:
    """The row's secrets decrypted (raises `db.secret_box.SecretUnreadable` if no configured
    key opens them)."""
    return Credentials(
        provider=row.provider,
        api_key=box.decrypt(row.api_key_encrypted) if row.api_key_encrypted else "",
        webhook_secret=(
            box.decrypt(row.webhook_secret_encrypted) if row.webhook_secret_encrypted else ""
        ),
        services=tuple(row.services or ()),
    )


@dataclass(frozen=True)
class Version:
    """What tells one configuration of an integration from the next."""

    provider: str
    updated_at: datetime


async def integration_version(
    session: AsyncSession, org_id: str, kind: IntegrationKind
) -> Version | None:
    """The provider and last change of the organisation's integration; None: built-in."""
    row = (
        await session.execute(
            select(models.Integration.provider, models.Integration.updated_at).where(
                models.Integration.org_id == org_id, models.Integration.kind == kind.value
            )
        )
    ).one_or_none()
    return None if row is None else Version(row.provider, row.updated_at)


async def webhook_secrets(
    session: AsyncSession, box: SecretBox, kind: IntegrationKind, provider: str
) -> dict[str, str]:
    """Every organisation's webhook secret for `provider`, by organisation id: an event
    endpoint shared by all organisations finds the one whose secret signed the event."""
    rows = await session.scalars(
        select(models.Integration).where(
            models.Integration.kind == kind.value,
            models.Integration.provider == provider,
            models.Integration.webhook_secret_encrypted.is_not(None),
        )
    )
    return {row.org_id: credentials(row, box).webhook_secret for row in rows.all()}


async def carrier_webhook_secret(
    session: AsyncSession, box: SecretBox, org_id: str, provider: str
) -> str | None:
    """The secret the organisation's carrier signs its webhooks with, if its carrier is
    `provider` and it gave one: a parcel booked with a carrier since replaced is not
    trusted on the old one's word."""
    row = await integration(session, org_id, IntegrationKind.CARRIER)
    if row is None or row.provider != provider or not row.webhook_secret_encrypted:
        return None
    return box.decrypt(row.webhook_secret_encrypted)
