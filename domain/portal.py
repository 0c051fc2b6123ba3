"""The self-service return portal's rules: organisation slugs, and which of an order's lines
a customer may return, decided by the RMA authorization rules themselves."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from domain.common import Policy
from domain.rma import RejectReason, Resolution, ReturnReason, RmaItem
from domain.rules import Decision, authorize

# A slug is what `/returns/{slug}` names: lower-case letters, digits and inner hyphens.
SLUG_MAX = 64
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
# Room left for a "-<n>" suffix when two names make the same slug.
_SLUG_STEM_MAX = SLUG_MAX - 8

# How long a lookup token opens the order, and how many lookups a client gets a minute.
LOOKUP_TOKEN_TTL = timedelta(minutes=30)
LOOKUPS_PER_MINUTE = 10

# What a troubleshooting list may hold.
MAX_TROUBLESHOOTING_STEPS = 10


def slug_of(name: str) -> str:
    """The slug a name makes: accents dropped, lower-cased, every other run of characters a
    single hyphen ("Café Zürich & Co" → "cafe-zurich-co"); "org" when nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:_SLUG_STEM_MAX].rstrip("-") or "org"


def numbered_slug(slug: str, attempt: int) -> str:
    """The slug to try on `attempt` (0 first) when earlier ones were taken: `acme`,
    `acme-2`, `acme-3` …"""
    return slug if attempt == 0 else f"{slug[:_SLUG_STEM_MAX].rstrip('-')}-{attempt + 1}"


@dataclass(frozen=True)
class Returnability:
    """Whether a customer may start a return of one unit, and with which resolutions. When
    none is allowed, `reason` is the RMA rules' reject reason (or `open_case`)."""

    resolutions: tuple[Resolution, ...] = ()
    reason: str | None = None

    @property
    def returnable(self) -> bool:
        return bool(self.resolutions)


# A line already in an open case (its serial, or the order's sku when it has none).
OPEN_CASE = "open_case"


def returnability(
    *,
    placed_at: datetime,
    now: datetime,
    policy: Policy,
    item: RmaItem,
    in_open_case: bool,
    has_active_plan: bool,
) -> Returnability:
    """The resolutions `authorize` (the rule the RMA workflow decides by) would not reject for
    this unit. A line already under an open case is not offered again."""
    if in_open_case:
        return Returnability(reason=OPEN_CASE)
    allowed: list[Resolution] = []
    reasons: list[RejectReason] = []
    for resolution in Resolution:
        decision = authorize(
            resolution=resolution,
            purchased_at=placed_at,
            now=now,
            items=[item],
            policy=policy,
            serials_with_open_cases=[],
            serials_with_active_plans=[item.serial] if has_active_plan else [],
        )
        if decision.decision is Decision.REJECTED:
            if decision.reason is not None:
                reasons.append(decision.reason)
        else:
            allowed.append(resolution)
    if allowed:
        return Returnability(tuple(allowed))
    return Returnability(reason=reasons[0].value if reasons else RejectReason.NOT_COVERED.value)


def portal_item(
    *, sku: str, serial: str, unit_price: Decimal, warranty_months: int, reason: ReturnReason
) -> RmaItem:
    """The one unit a portal return is about, as the rules take it."""
    return RmaItem(
        sku=sku,
        serial=serial,
        quantity=1,
        reason=reason,
        unit_price=unit_price,
        warranty_months=warranty_months,
    )
