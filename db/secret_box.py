"""Secrets at rest: integration credentials and webhook signing secrets are stored as
Fernet tokens (AES-128-CBC with HMAC-SHA256) under keys from AFTERSALES_SECRETS_KEY.

Every key of the setting decrypts and the first encrypts, so an operator rotates by putting
a new key in front, re-encrypting (`SecretBox.rotate`) and later dropping the old one. The
Fernet keys are derived from the configured ones with HKDF, so the same bytes given as
AFTERSALES_PAYLOAD_KEY by mistake would still not open these tokens, nor the reverse."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from settings import parse_payload_keys

_PURPOSE = b"aftersales secrets at rest v1"
_FINGERPRINT_PURPOSE = b"aftersales secret fingerprints v1"


class SecretUnreadable(Exception):
    """A stored secret no configured key opens (a key dropped too early, or tampering).
    The message never holds the token nor the secret."""


class SecretBox:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a secret box needs at least one key")
        self._fernet = MultiFernet([Fernet(_fernet_key(key)) for key in keys])
        self._fingerprint_key = _derive(keys[0], _FINGERPRINT_PURPOSE)

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        """From AFTERSALES_SECRETS_KEY's text (`KEY_ID:BASE64,…`, see settings)."""
        return cls([key for _, key in parse_payload_keys(value, "AFTERSALES_SECRETS_KEY")])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SecretUnreadable("a stored secret opens with no configured key") from None

    def rotate(self, token: str) -> str:
        """The same secret under the first key (for re-encrypting after a key change)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise SecretUnreadable("a stored secret opens with no configured key") from None

    def fingerprint(self, secret: str) -> str:
        """A keyed digest (HMAC-SHA256 under the first key) that tells two secrets apart
        without revealing either: unlike a bare hash, no guess of a password or a key can be
        tested against it without the box's key. Changes when a new key is put first."""
        return hmac.new(self._fingerprint_key, secret.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "SecretBox(…)"


def _fernet_key(key: bytes) -> bytes:
    return base64.urlsafe_b64encode(_derive(key, _PURPOSE))


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)
