"""HMAC-SHA256 signatures of the form `t=<unix seconds>,v1=<hex>` over `t + "." + body`.

Used by carrier events coming in and by webhooks going out."""

from __future__ import annotations

import hashlib
import hmac

REPLAY_WINDOW_SECONDS = 300
MAX_TIMESTAMP_DIGITS = 12


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, body: bytes, header: str | None, now: float, window: int = REPLAY_WINDOW_SECONDS
) -> bool:
    """True when the header is well formed, fresh (within `window` seconds either way) and
    carries a matching `v1` signature."""
    if not header:
        return False
    parts: dict[str, list[str]] = {}
    for piece in header.split(","):
        name, sep, value = piece.strip().partition("=")
        if sep:
            parts.setdefault(name, []).append(value)
    stamp = parts.get("t", [""])[0]
    # ASCII digits only, and few of them: int() also reads other scripts' digits, and a
    # huge number overflows the float subtraction below.
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= MAX_TIMESTAMP_DIGITS):
        return False
    timestamp = int(stamp)
    if abs(now - timestamp) > window:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1].encode()
    # Bytes on both sides: compare_digest refuses a str with non-ASCII characters, and a
    # header is whatever the sender put in it.
    return any(
        hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
        for candidate in parts.get("v1", [])
    )
