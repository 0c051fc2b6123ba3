"""API keys: issued once, stored as SHA-256, resolved to an organisation and its kind."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import structlog
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import forbidden, unauthorized
from db import models
from db.types import utcnow
from domain.common import Actor

log = structlog.get_logger(__name__)

KEY_PREFIX = "ask_"


class OrgKind(StrEnum):
    ADMIN = "admin"
    RETAILER = "retailer"
    REPAIR_CENTER = "repair_center"


@dataclass(frozen=True)
class Principal:
    kind: OrgKind
    org_id: str | None  # None for the bootstrap admin key
    # The console user acting for the organisation ("" for an API key): on the timeline.
    user: str = ""

    def require(self, *kinds: OrgKind) -> None:
        if self.kind not in kinds:
            raise forbidden(f"a {self.kind.value} key may not do this")

    def actor(self) -> Actor:
        """Who did it, for a case's timeline."""
        return Actor(self.kind.value, self.org_id or "", self.user)

    @property
    def owner_id(self) -> str:
        if self.org_id is None:
            raise forbidden("the bootstrap admin key belongs to no organisation")
        return self.org_id


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise unauthorized()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("use 'Authorization: Bearer <api key>'")
    return token.strip()


# A verified key is remembered this long, so most requests resolve their key without a
# query. It is also how long a key revoked through another API process keeps working there
# (a revocation forgets the key at once in the process that made it).
KEY_CACHE_SECONDS = 30.0
KEY_CACHE_SIZE = 4096


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    key_id: str
    until: float


class KeyCache:
    """Verified API keys by their SHA-256 (never the key itself) for `ttl` seconds, the
    oldest forgotten first beyond `size`. Per process: revoking a key forgets it here at
    once and everywhere else within `ttl`."""

    def __init__(self, ttl: float = KEY_CACHE_SECONDS, size: int = KEY_CACHE_SIZE) -> None:
        self.ttl = ttl
        self.size = size
        self._known: OrderedDict[str, _Verified] = OrderedDict()

    def get(self, key_hash: str) -> Principal | None:
        known = self._known.get(key_hash)
        if known is None:
            return None
        if known.until <= time.monotonic():
            del self._known[key_hash]
            return None
        return known.principal

    def put(self, key_hash: str, key_id: str, principal: Principal) -> None:
        self._known[key_hash] = _Verified(principal, key_id, time.monotonic() + self.ttl)
        self._known.move_to_end(key_hash)
        while len(self._known) > self.size:
            self._known.popitem(last=False)

    def forget(self, key_id: str) -> None:
        for key_hash in [h for h, known in self._known.items() if known.key_id == key_id]:
            del self._known[key_hash]


_KEY = (
    select(
        models.ApiKey.id.label("key_id"),
        models.ApiKey.revoked_at,
        models.ApiKey.last_used_at,
        models.Organisation.id,
        models.Organisation.kind,
    )
    .join(models.Organisation, models.Organisation.id == models.ApiKey.org_id)
    .where(models.ApiKey.key_hash == bindparam("key_hash"))
)


async def resolve(
    session: AsyncSession, token: str, admin_key: str, cache: KeyCache | None = None
) -> Principal:
    if hmac.compare_digest(token.encode(), admin_key.encode()):
        return Principal(OrgKind.ADMIN, None)
    key_hash = hash_key(token)
    known = cache.get(key_hash) if cache is not None else None
    if known is not None:
        return known
    row = (await session.execute(_KEY, {"key_hash": key_hash})).first()
    if row is None or row.revoked_at is not None:
        raise unauthorized("unknown or revoked API key")
    await _note_use(session, row.key_id, row.last_used_at)
    principal = Principal(OrgKind(row.kind), row.id)
    if cache is not None:
        cache.put(key_hash, row.key_id, principal)
    return principal


# `last_used_at` tells a key in use from a forgotten one; a minute's precision is plenty and
# spares a write on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


async def _note_use(session: AsyncSession, key_id: str, last_used_at: datetime | None) -> None:
    now = utcnow()
    if last_used_at is not None and now - last_used_at < LAST_USED_PRECISION:
        return
    stale = now - LAST_USED_PRECISION
    try:
        # Conditional, so concurrent requests with one key write it once a minute at most.
        await session.execute(
            update(models.ApiKey)
            .where(
                models.ApiKey.id == key_id,
                or_(models.ApiKey.last_used_at.is_(None), models.ApiKey.last_used_at < stale),
            )
            .values(last_used_at=now)
        )
        await session.commit()
    except SQLAlchemyError:
        # Bookkeeping only: a busy database must not turn a valid key away.
        await session.rollback()
        log.warning("could not record an API key's use", key_id=key_id)
