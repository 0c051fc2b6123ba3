"""What the retailer console's pages share: who may open them, and times as they show them."""

from __future__ import annotations

from datetime import UTC, datetime

from api.auth import OrgKind
from api.console.session import ConsoleUser, RoleRefused


def require_retailer(user: ConsoleUser) -> None:
    """Retailer pages are for a retailer's owner and staff; anyone else sees the 403 page."""
    if user.org_kind is not OrgKind.RETAILER or user.role not in ("owner", "staff"):
        raise RoleRefused(user)


def when(moment: datetime | None) -> str:
    """`2026-12-01 13:45 UTC`: sortable, and one zone for everyone (the timeline's)."""
    if moment is None:
        return ""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
