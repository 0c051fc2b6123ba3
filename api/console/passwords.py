"""Console passwords: argon2id hashes, with RFC 9106's second recommended parameters
(argon2-cffi's defaults) unless the settings ask for the cheapest (`password_hashing`)."""

from __future__ import annotations

import asyncio
import functools
from typing import Annotated, Literal

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends

from api.deps import ResourcesDep

MIN_LENGTH = 10
MAX_LENGTH = 200

Hashing = Literal["rfc9106", "minimal"]

_PARAMETERS = {
    "rfc9106": profiles.RFC_9106_LOW_MEMORY,
    "minimal": profiles.CHEAPEST,
}


class Passwords:
    """Hashes and verifies console passwords off the event loop (argon2 is CPU-heavy on
    purpose: ~50 ms and more at the standard parameters)."""

    def __init__(self, hashing: Hashing) -> None:
        self._hasher = PasswordHasher.from_parameters(_PARAMETERS[hashing])
        # Verified against when the email is nobody's, so an unknown email costs what a
        # wrong password does and the answer's timing does not tell them apart.
        self._dummy_hash = self._hasher.hash("not anyone's password")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` is the one `password_hash` was made from; with no hash (no
        such user), the same work against a dummy hash, and False."""
        return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            matched = self._hasher.verify(password_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None


@functools.cache
def passwords(hashing: Hashing) -> Passwords:
    """The one `Passwords` of each setting (its dummy hash made once)."""
    return Passwords(hashing)


async def passwords_dep(res: ResourcesDep) -> Passwords:
    return passwords(res.settings.password_hashing)


PasswordsDep = Annotated[Passwords, Depends(passwords_dep)]
