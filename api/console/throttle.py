"""Sign-in throttling: failures counted in the database per email and per client address,
so every API process sees the same count. Past a few failures each attempt waits first;
past more, sign-in is refused (429) until the oldest failures leave the window."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import timedelta

from api.deps import AsyncSession
from db import console_users
from db.types import utcnow

WINDOW = timedelta(minutes=15)
# Per email: a person mistyping is not slowed, a guesser soon is, then stopped.
EMAIL_SLOW_AFTER = 5
EMAIL_REFUSE_AT = 10
# Per client address: higher, since an office shares one address.
IP_SLOW_AFTER = 20
IP_REFUSE_AT = 50
# The wait before a slowed attempt is checked.
SLOW_DELAY_SECONDS = 1.0


@dataclass(frozen=True)
class Subjects:
    email: str
    ip: str

    @classmethod
    def of(cls, email: str, ip: str) -> Subjects:
        return cls(
            "email:" + hashlib.sha256(email.encode()).hexdigest(),
            "ip:" + hashlib.sha256(ip.encode()).hexdigest(),
        )


async def admit(session: AsyncSession, subjects: Subjects) -> bool:
    """False when this email or address has failed too often lately; otherwise True, after
    the wait its failures earned."""
    since = utcnow() - WINDOW
    by_email = await console_users.failures_since(session, [subjects.email], since)
    by_ip = await console_users.failures_since(session, [subjects.ip], since)
    if by_email >= EMAIL_REFUSE_AT or by_ip >= IP_REFUSE_AT:
        return False
    if by_email >= EMAIL_SLOW_AFTER or by_ip >= IP_SLOW_AFTER:
        await asyncio.sleep(SLOW_DELAY_SECONDS)
    return True


async def failed(session: AsyncSession, subjects: Subjects) -> None:
    await console_users.note_failure(session, [subjects.email, subjects.ip], utcnow() - WINDOW)


async def succeeded(session: AsyncSession, subjects: Subjects) -> None:
    await console_users.forget_failures(session, [subjects.email])
