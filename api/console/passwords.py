"""Console passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's second choice)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

# Verified against when the email is nobody's, so an unknown email costs what a wrong
# password does and the answer's timing does not tell them apart.
_DUMMY_HASH = _hasher.hash("not anyone's password")

MIN_LENGTH = 10
MAX_LENGTH = 200


async def hash_password(password: str) -> str:
    # argon2 is CPU-heavy on purpose (~50 ms): off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one `password_hash` was made from; with no hash (no such
    user), the same work against a dummy hash, and False."""
    return await asyncio.to_thread(_verify, password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        matched = _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None
