"""`Idempotency-Key`: the same key and body give the first answer; another body is a 409."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Header
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy import CursorResult, Result, Row, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Problem, case_id_collision, idempotency_key_in_use
from api.schemas.common import NO_CONTROL, column_length
from db import models
from db.types import utcnow

MAX_KEY_LENGTH = column_length(models.IdempotencyRecord.key)

KeyText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH), NO_CONTROL]
# The header every creating POST and every case command accepts; a control character in it
# (a tab survives HTTP) is a 422 naming the header, like any other field.
IdempotencyKey = Annotated[KeyText | None, Header(alias="Idempotency-Key")]
_KEY_TEXT: TypeAdapter[str] = TypeAdapter(KeyText)


def form_key(value: str | None, field: str = "idempotency_key") -> str | None:
    """A page's form field standing in for the header (its nonce), held to the header's
    rules: None when the form sent none; a control character or too long a key is the
    header's 422 `validation_error`, before anything is started without its key."""
    if not value:
        return None
    try:
        return _KEY_TEXT.validate_python(value)
    except ValidationError as exc:
        raise Problem(
            422,
            "validation_error",
            f"{field} must be 1 to {MAX_KEY_LENGTH} characters, none of them a control character",
            errors=[
                {"loc": ["body", field], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
            ],
        ) from exc


def request_hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    session: AsyncSession,
    org_id: str,
    key: str,
    body_hash: str,
    resource_type: str,
    proposed_id: str,
) -> str:
    """The resource id this key stands for: `proposed_id` if the key is new, else the id
    the first request reserved. Raises 409 `idempotency_conflict` for another body."""
    first = await reserve(session, org_id, key, body_hash, resource_type, proposed_id)
    if first is not None:
        return first
    try:
        await session.commit()
        return proposed_id
    except IntegrityError:
        await session.rollback()  # a concurrent request with the same key won
        existing = await _find(session, org_id, key)
        assert existing is not None
        return _first_id(existing, body_hash, resource_type)


async def reserve(
    session: AsyncSession,
    org_id: str,
    key: str,
    body_hash: str,
    resource_type: str,
    proposed_id: str,
) -> str | None:
    """Like `claim`, inside the caller's transaction: the id a first request with this key
    made, or None after adding the key's record for `proposed_id`, which the caller commits
    together with the resource. Then a retry never finds a key without its resource. The
    caller serialises requests with one key (a lock), or takes an IntegrityError on commit
    as a concurrent first request winning."""
    _check_length(key)
    existing = await _find(session, org_id, key)
    if existing is None:
        session.add(
            models.IdempotencyRecord(
                org_id=org_id,
                key=key,
                request_hash=body_hash,
                resource_type=resource_type,
                resource_id=proposed_id,
            )
        )
        return None
    return _first_id(existing, body_hash, resource_type)


def _first_id(existing: models.IdempotencyRecord, body_hash: str, resource_type: str) -> str:
    """The id the key's first request made, if this request is the same one."""
    if existing.request_hash != body_hash or existing.resource_type != resource_type:
        raise Problem(
            409, "idempotency_conflict", "this Idempotency-Key was used with a different request"
        )
    return existing.resource_id


async def _find(session: AsyncSession, org_id: str, key: str) -> models.IdempotencyRecord | None:
    return await session.scalar(
        select(models.IdempotencyRecord).where(
            models.IdempotencyRecord.org_id == org_id, models.IdempotencyRecord.key == key
        )
    )


async def claim_case(
    session: AsyncSession,
    org_id: str,
    key: str | None,
    body: BaseModel,
    resource_type: str,
    proposed_id: str,
) -> tuple[str, models.Case | None]:
    """The id a create request works under, and the case a first request with the same key
    already made (then the caller answers with it and starts nothing)."""
    if key is None:
        return proposed_id, None
    case_id = await claim(
        session,
        org_id,
        key,
        request_hash(body.model_dump(mode="json")),
        resource_type,
        proposed_id,
    )
    await refuse_another_orgs_case(session, org_id, case_id)
    return case_id, await session.get(models.Case, case_id)


_OWNER = select(models.Case.org_id).where(models.Case.id == bindparam("case_id"))


async def held_elsewhere(session: AsyncSession, org_id: str, case_id: str) -> bool:
    """Whether `case_id` names another organisation's case."""
    owner = await session.scalar(_OWNER, {"case_id": case_id})
    return owner is not None and owner != org_id


async def refuse_another_orgs_case(session: AsyncSession, org_id: str, case_id: str) -> None:
    """A new case id that names another organisation's case (ids are random, so this is
    a collision, however unlikely) is answered as a retryable 503, never with that case,
    after forgetting the Idempotency-Key that reserved the id so that a retry draws a
    fresh one."""
    if not await held_elsewhere(session, org_id, case_id):
        return
    await session.execute(
        delete(models.IdempotencyRecord).where(
            models.IdempotencyRecord.org_id == org_id,
            models.IdempotencyRecord.resource_id == case_id,
        )
    )
    await session.commit()
    raise case_id_collision()


# ------------------------------------------------------------------ case commands


@dataclass(frozen=True)
class CommandKey:
    """An `Idempotency-Key` sent with a command to one case.

    `record_key` names the first answer in `idempotency_records`; `update_id` is the Temporal
    update id, which Temporal dedupes within a workflow run (a retry attaches to the first
    update's outcome, even once the workflow has closed). Both are hashes namespaced by the
    caller and the case, so two callers' keys never meet and their length is bounded; the
    update id also names the command, since Temporal would hand a different command with
    the same id the first one's outcome."""

    org_id: str
    case_id: str
    record_key: str
    update_id: str
    request_hash: str


def command_key(
    key: str | None, *, caller: str, org_id: str, case_id: str, command: str, body: Any
) -> CommandKey | None:
    """`caller` is who sends the command (an organisation id, or `customer` for a tracking
    token), `org_id` the organisation that owns the case (the record is filed under it)."""
    if key is None:
        return None
    _check_length(key)
    payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    return CommandKey(
        org_id=org_id,
        case_id=case_id,
        record_key="cmd:" + _digest(caller, case_id, key),
        update_id="cmd:" + _digest(caller, case_id, command, key),
        request_hash=request_hash({"command": command, "body": payload}),
    )


async def first_answer(session: AsyncSession, command: CommandKey) -> dict[str, Any] | None:
    """The answer the first request with this key gave, if it has answered; else None (and
    the key is now reserved for this request). Raises 409 `idempotency_conflict` when the
    key was used for another command or body.

    Unlike `claim`, a concurrent request with the same key is not an IntegrityError to
    roll back: a rollback would expire the case the route already loaded."""
    await _insert_reservation(session, command, utcnow())
    record = await _find(session, command.org_id, command.record_key)
    assert record is not None, "inserted or found just now"
    _refuse_another_request(record.request_hash, record.resource_type, command)
    return record.response


async def _insert_reservation(session: AsyncSession, command: CommandKey, at: datetime) -> bool:
    """Reserve the key for this request, stamped `at` (committed); False when a record of
    the key is there already. The unique (org_id, key) decides, so of two requests at once
    exactly one inserts."""
    table = models.IdempotencyRecord
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    # RETURNING answers a row only for an inserted record, on SQLite and PostgreSQL alike
    # (an INSERT's row count is no use: psycopg's is -1 once SQLAlchemy returns the id).
    inserted = await session.scalar(
        insert.values(
            org_id=command.org_id,
            key=command.record_key,
            request_hash=command.request_hash,
            resource_type=COMMAND_RESOURCE,
            resource_id=command.case_id,
            created_at=at,
        )
        .on_conflict_do_nothing(index_elements=[table.org_id, table.key])
        .returning(table.id)
    )
    await session.commit()
    return inserted is not None


def _rowcount(result: Result[Any]) -> int:
    # An UPDATE answers a CursorResult, whose row count is the rows it changed.
    assert isinstance(result, CursorResult)
    return result.rowcount


def _refuse_another_request(request_hash: str, resource_type: str, command: CommandKey) -> None:
    if request_hash != command.request_hash or resource_type != COMMAND_RESOURCE:
        raise Problem(
            409, "idempotency_conflict", "this Idempotency-Key was used with a different request"
        )


async def remember(
    session: AsyncSession, command: CommandKey, answer: dict[str, Any]
) -> dict[str, Any]:
    """Keep `answer` as the key's answer unless a concurrent request with the same key
    stored one first; answer whichever was stored, so every retry says the same."""
    table = models.IdempotencyRecord
    await session.execute(
        update(table)
        .where(
            table.org_id == command.org_id,
            table.key == command.record_key,
            table.response.is_(None),
        )
        .values(response=answer)
    )
    await session.commit()
    stored = await session.scalar(
        select(table.response).where(
            table.org_id == command.org_id,
            table.key == command.record_key,
        )
    )
    return stored if stored is not None else answer


COMMAND_RESOURCE = "command"

# ------------------------------------------------------------------ one request at a time

# A reservation not answered within this long was its request's, which died (a crash, a
# restart) without answering or giving the key back: the next request with the key takes it
# over. No setup command takes near this long.
RESERVATION_LEASE = timedelta(seconds=60)
# How long a request waits for another request holding its key to answer, before 409
# `idempotency_key_in_use`: a setup command answers well within it.
IN_FLIGHT_WAIT_SECONDS = 5.0
# A released reservation's stamp: its lease is long over, so the next request with the key
# takes it over at once, while the record still names the body the key was sent with.
RELEASED_AT = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Lease:
    """This request holds its key and runs the command: then it `remember`s the answer, or
    `release`s the key if the command failed. `taken_at` is the reservation's `created_at`
    as this request stamped it, which tells this request's hold from a later taker's."""

    command: CommandKey
    taken_at: datetime


async def answer_or_lease(session: AsyncSession, command: CommandKey) -> dict[str, Any] | Lease:
    """The first answer to this key, or the key for this request to run the command: one
    request at a time runs it. While another request holds the key this one waits (reads
    only, up to IN_FLIGHT_WAIT_SECONDS) for that request's answer, then gives up with 409
    `idempotency_key_in_use`, having changed nothing. A hold past RESERVATION_LEASE, or
    released, is taken over, by one request only. 409 `idempotency_conflict` when the key
    was sent with another command or body."""
    taken_at = utcnow()
    if await _insert_reservation(session, command, taken_at):
        return Lease(command, taken_at)
    clock = asyncio.get_running_loop()
    deadline, pause = clock.time() + IN_FLIGHT_WAIT_SECONDS, 0.01
    while True:
        if (outcome := await _look_again(session, command)) is not None:
            return outcome
        if clock.time() >= deadline:
            raise idempotency_key_in_use()
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.2)


async def _look_again(session: AsyncSession, command: CommandKey) -> dict[str, Any] | Lease | None:
    """The key's answer, or the key for this request (its hold lapsed or released, or its
    record gone); None while another request holds it."""
    held = await _reservation(session, command)
    if held is None:  # gone since (never by this module): reserve it afresh
        taken_at = utcnow()
        inserted = await _insert_reservation(session, command, taken_at)
        return Lease(command, taken_at) if inserted else None
    _refuse_another_request(held.request_hash, held.resource_type, command)
    if held.response is not None:
        answer: dict[str, Any] = held.response
        return answer
    if held.created_at < utcnow() - RESERVATION_LEASE:
        return await _take_over(session, command)
    return None


async def _reservation(session: AsyncSession, command: CommandKey) -> Row[Any] | None:
    """The key's record as committed now (its columns, never a cached object)."""
    table = models.IdempotencyRecord
    held = (
        await session.execute(
            select(table.request_hash, table.resource_type, table.response, table.created_at).where(
                table.org_id == command.org_id, table.key == command.record_key
            )
        )
    ).one_or_none()
    await session.commit()  # no transaction stays open while this request waits
    return held


async def _take_over(session: AsyncSession, command: CommandKey) -> Lease | None:
    """The key's lapsed (or released) reservation, now this request's; None when another
    request took it first (the UPDATE's condition fails for all but one)."""
    table = models.IdempotencyRecord
    taken_at = utcnow()
    result = await session.execute(
        update(table)
        .where(
            table.org_id == command.org_id,
            table.key == command.record_key,
            table.response.is_(None),
            table.created_at < taken_at - RESERVATION_LEASE,
        )
        .values(created_at=taken_at)
    )
    await session.commit()
    return Lease(command, taken_at) if _rowcount(result) == 1 else None


async def release(session: AsyncSession, lease: Lease) -> None:
    """Give the key back after its command failed: a retry of the same request runs it
    (the key's record still names the body, so another body stays `idempotency_conflict`).
    Whatever the failed command left unfinished in the session is rolled back, never
    committed with this."""
    table = models.IdempotencyRecord
    await session.rollback()
    await session.execute(
        update(table)
        .where(
            table.org_id == lease.command.org_id,
            table.key == lease.command.record_key,
            table.response.is_(None),
            table.created_at == lease.taken_at,
        )
        .values(created_at=RELEASED_AT)
    )
    await session.commit()


def _digest(*parts: str) -> str:
    # Length-prefixed, so ("a:b", "c") and ("a", "b:c") stay different keys.
    joined = "".join(f"{len(p)}:{p}" for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()


def _check_length(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Problem(
            422, "validation_error", f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters"
        )
