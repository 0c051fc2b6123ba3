"""Console users, their sessions and failed sign-ins, as stored: a user's password as an
argon2 hash, a session by the SHA-256 of its cookie, a failure by the SHA-256 of its subject.
(`api.console` hashes and verifies; nothing here sees a password or a cookie.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.types import utcnow


class EmailTaken(Exception):
    """Another user (of any organisation) signs in with that email already."""


async def add_user(
    session: AsyncSession,
    org_id: str,
    email: str,
    name: str,
    role: str,
    password_hash: str,
    user_id: str | None = None,
) -> models.User:
    """Store a new user (commits), under `user_id` when given (an `Idempotency-Key` reserved
    it); `EmailTaken` if the email is anyone's already (or the id is taken), decided by the
    unique constraint, so two concurrent creations cannot both win."""
    user = models.User(
        id=user_id or models.new_id(),
        org_id=org_id,
        email=email,
        name=name,
        role=role,
        password_hash=password_hash,
    )
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise EmailTaken(email) from exc
    return user


async def users_of(session: AsyncSession, org_id: str) -> list[models.User]:
    """Every user of the organisation, disabled ones included, oldest first."""
    rows = await session.scalars(
        select(models.User)
        .where(models.User.org_id == org_id)
        .order_by(models.User.created_at, models.User.id)
    )
    return list(rows.all())


async def user_by_email(session: AsyncSession, email: str) -> models.User | None:
    """The enabled user who signs in with `email` (lower-cased by the caller)."""
    return (
        await session.scalars(
            select(models.User).where(models.User.email == email, models.User.disabled_at.is_(None))
        )
    ).first()


async def disable_user(session: AsyncSession, org_id: str, user_id: str) -> bool:
    """Disable the organisation's user and end every session of theirs (commits). False if
    the organisation has no such user; disabling twice keeps the first time."""
    user = await session.get(models.User, user_id, with_for_update=True)
    if user is None or user.org_id != org_id:
        return False
    now = utcnow()
    if user.disabled_at is None:
        user.disabled_at = now
    await session.execute(
        update(models.ConsoleSession)
        .where(models.ConsoleSession.user_id == user_id, models.ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.commit()
    return True


# ------------------------------------------------------------------ sessions


async def add_session(
    session: AsyncSession, session_hash: str, user_id: str, expires_at: datetime
) -> None:
    now = utcnow()
    session.add(
        models.ConsoleSession(
            id=session_hash, user_id=user_id, created_at=now, last_seen=now, expires_at=expires_at
        )
    )
    await session.commit()


@dataclass(frozen=True)
class LiveSession:
    """A session that is neither revoked, past its end nor idle too long, with its user."""

    user: models.User
    org_kind: str
    last_seen: datetime


async def live_session(
    session: AsyncSession, session_hash: str, idle: timedelta, now: datetime
) -> LiveSession | None:
    """The live session of that hash and its enabled user, in one statement; None otherwise."""
    row = (
        await session.execute(
            select(models.User, models.Organisation.kind, models.ConsoleSession.last_seen)
            .join(models.ConsoleSession, models.ConsoleSession.user_id == models.User.id)
            .join(models.Organisation, models.Organisation.id == models.User.org_id)
            .where(
                models.ConsoleSession.id == session_hash,
                models.ConsoleSession.revoked_at.is_(None),
                models.ConsoleSession.expires_at > now,
                models.ConsoleSession.last_seen > now - idle,
                models.User.disabled_at.is_(None),
            )
        )
    ).first()
    if row is None:
        return None
    return LiveSession(row[0], row[1], row[2])


async def touch_session(session: AsyncSession, session_hash: str, now: datetime) -> None:
    """Note that the session was used now (commits)."""
    await session.execute(
        update(models.ConsoleSession)
        .where(models.ConsoleSession.id == session_hash)
        .values(last_seen=now)
    )
    await session.commit()


async def revoke_session(session: AsyncSession, session_hash: str) -> None:
    """End the session (commits); ending an ended or unknown session does nothing."""
    await session.execute(
        update(models.ConsoleSession)
        .where(models.ConsoleSession.id == session_hash, models.ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await session.commit()


# ------------------------------------------------------------------ failed sign-ins


async def failures_since(session: AsyncSession, subjects: list[str], since: datetime) -> int:
    """The most failures any one of `subjects` had since `since`."""
    rows = await session.execute(
        select(models.LoginFailure.subject, func.count())
        .where(models.LoginFailure.subject.in_(subjects), models.LoginFailure.at > since)
        .group_by(models.LoginFailure.subject)
    )
    return max((int(count) for _, count in rows.all()), default=0)


async def note_failure(session: AsyncSession, subjects: list[str], forget_before: datetime) -> None:
    """Count a failure against each subject and forget theirs older than `forget_before`
    (commits), so the table holds one window's failures."""
    await session.execute(
        delete(models.LoginFailure).where(
            models.LoginFailure.subject.in_(subjects), models.LoginFailure.at < forget_before
        )
    )
    now = utcnow()
    session.add_all(models.LoginFailure(subject=subject, at=now) for subject in subjects)
    await session.commit()


async def forget_failures(session: AsyncSession, subjects: list[str]) -> None:
    """A successful sign-in clears its email's failures (commits)."""
    await session.execute(
        delete(models.LoginFailure).where(
            or_(*(models.LoginFailure.subject == subject for subject in subjects))
        )
    )
    await session.commit()


async def organisations_by_ref(session: AsyncSession, ref: str) -> list[models.Organisation]:
    """The organisation whose id is `ref`, else every one named `ref` (the CLI's --org)."""
    by_id = await session.get(models.Organisation, ref)
    if by_id is not None:
        return [by_id]
    rows = await session.scalars(select(models.Organisation).where(models.Organisation.name == ref))
    return list(rows.all())
