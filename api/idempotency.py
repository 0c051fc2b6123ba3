"""`Idempotency-Key`: the same key and body give the first answer; another body is a 409."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Problem, case_id_collision
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


async def refuse_another_orgs_case(session: AsyncSession, org_id: str, case_id: str) -> None:
    """A new case id that names another organisation's case (ids are random, so this is
    a collision, however unlikely) is answered as a retryable 503, never with that case,
    after forgetting the Idempotency-Key that reserved the id so that a retry draws a
    fresh one."""
    owner = await session.scalar(
        select(models.Case.org_id)
        .where(models.Case.id == case_id)
        .execution_options(populate_existing=True)
    )
    if owner is None or owner == org_id:
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
    table = models.IdempotencyRecord
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    await session.execute(
        insert.values(
            org_id=command.org_id,
            key=command.record_key,
            request_hash=command.request_hash,
            resource_type=COMMAND_RESOURCE,
            resource_id=command.case_id,
            created_at=utcnow(),
        ).on_conflict_do_nothing(index_elements=[table.org_id, table.key])
    )
    await session.commit()
    record = await _find(session, command.org_id, command.record_key)
    assert record is not None, "inserted or found just now"
    if record.request_hash != command.request_hash or record.resource_type != COMMAND_RESOURCE:
        raise Problem(
            409, "idempotency_conflict", "this Idempotency-Key was used with a different request"
        )
    return record.response


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


def _digest(*parts: str) -> str:
    # Length-prefixed, so ("a:b", "c") and ("a", "b:c") stay different keys.
    joined = "".join(f"{len(p)}:{p}" for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()


def _check_length(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Problem(
            422, "validation_error", f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters"
        )
