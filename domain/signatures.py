"""HMAC-SHA256 signatures of the form `t=<unix seconds>,v1=<hex>` over `t + "." + body`.

Used by carrier events coming in and by webhooks going out."""

from __future__ import annotations

import hashlib
import hmac

REPLAY_WINDOW_SECONDS = 300


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
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > window:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))
