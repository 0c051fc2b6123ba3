"""Per-process resources (one engine, one Temporal client) and the request dependencies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession  # for the routes' helpers
from temporalio.client import Client

from api.auth import KeyCache, Principal, bearer_token, resolve
from api.errors import temporal_unavailable
from db.document_store import DocumentStore
from db.read_model_reader import ReadModelReader
from db.secret_box import SecretBox
from db.synchronous import Body
from settings import Settings
from temporal_client import connect
from temporal_connection import TemporalConnectionError

T = TypeVar("T")


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    documents: DocumentStore
    # The API's bounded reads (`Reads`): synchronous on an SQLite file.
    reader: ReadModelReader
    keys: KeyCache = field(default_factory=KeyCache)
    _client: Client | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _box: SecretBox | None = None

    def secret_box(self) -> SecretBox:
        """What encrypts the secrets the database keeps (AFTERSALES_SECRETS_KEY)."""
        if self._box is None:
            self._box = SecretBox.from_setting(self.settings.required_secrets_key)
        return self._box

    async def temporal(self) -> Client:
        """The Temporal client, connected on first use so the API starts even while
        Temporal is still coming up (and /healthz can say so)."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await connect(self.settings)
                # A connection its settings contradict (the CLI refuses to start with one)
                # cannot be reached either: a 503 and a degraded /healthz, never a 500.
                except (RuntimeError, TemporalConnectionError) as exc:
                    raise temporal_unavailable() from exc
            return self._client


# The dependencies are coroutines even where they do not wait: FastAPI runs a plain
# function in its thread pool, a thread hop per request that costs more than the function.
async def resources(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


ResourcesDep = Annotated[Resources, Depends(resources)]


async def settings_dep(res: ResourcesDep) -> Settings:
    return res.settings


SettingsDep = Annotated[Settings, Depends(settings_dep)]


async def session_dep(res: ResourcesDep) -> AsyncIterator[AsyncSession]:
    async with res.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(session_dep)]


@dataclass(frozen=True)
class Reads:
    """A request's bounded reads: a body of them runs through the read model's reader
    (`db.read_model_reader`, synchronous on an SQLite file), else in the request's session."""

    session: AsyncSession
    reader: ReadModelReader

    async def __call__(self, body: Body[T]) -> T:
        return await self.reader.read(body, self.session)


async def reads_dep(res: ResourcesDep, session: SessionDep) -> Reads:
    return Reads(session, res.reader)


ReadsDep = Annotated[Reads, Depends(reads_dep)]


async def temporal_dep(res: ResourcesDep) -> Client:
    return await res.temporal()


TemporalDep = Annotated[Client, Depends(temporal_dep)]


async def secret_box_dep(res: ResourcesDep) -> SecretBox:
    return res.secret_box()


SecretBoxDep = Annotated[SecretBox, Depends(secret_box_dep)]


# Declares the scheme in the OpenAPI document (Swagger's Authorize button); the header itself
# is read below, so a malformed one gets our problem rather than FastAPI's.
BEARER = HTTPBearer(
    scheme_name="bearerAuth",
    description="An API key (`ask_…`): the admin key (`AFTERSALES_ADMIN_KEY`), or one made "
    "by `POST /v1/orgs/{org_id}/api-keys` or `aftersales keys create`.",
    auto_error=False,
)


async def principal_dep(
    res: ResourcesDep,
    session: SessionDep,
    request: Request,
    _scheme: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
) -> Principal:
    authorization = request.headers.get("authorization")
    return await resolve(
        session, bearer_token(authorization), res.settings.required_admin_key, res.keys
    )


PrincipalDep = Annotated[Principal, Depends(principal_dep)]
