"""Insight: why units come back and how well they are served, per product, category or repair
center. What the read model keeps typed for it (`insight_columns`), what a figure means
(`GroupBy`, the 90-day first-time fix, nearest-rank percentiles) and the row answered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.contracts.facts import parse_moment

# A repair "comes back" when the same unit (the retailer's serial) opens another repair
# within this long of being shipped back; a repair that does not is fixed the first time.
COMEBACK_WINDOW = timedelta(days=90)

REPAIR = "repair"
RECEIVED = "received"
SHIPPED = "shipped"


class GroupBy(StrEnum):
    SKU = "sku"
    CATEGORY = "category"
    CENTER = "center"


def insight_columns(
    case_type: str, data: Mapping[str, Any], entries: Iterable[Any]
) -> dict[str, Any]:
    """The typed columns a projection of a repair job sets from what it writes: `data` (the
    facts, possibly only the keys a step changed) and its new timeline entries (`.status`,
    `.at`). A key absent here leaves the stored value as it is; `received_at` and
    `shipped_at` are the first such moments (the store keeps an earlier one)."""
    if case_type != REPAIR:
        return {}
    columns: dict[str, Any] = {}
    diagnosis = data.get("diagnosis")
    if isinstance(diagnosis, Mapping) and isinstance(diagnosis.get("fault_code"), str):
        columns["fault_code"] = diagnosis["fault_code"] or None
    sla = data.get("sla")
    if isinstance(sla, Mapping):
        received = parse_moment(sla.get("received_at"))
        if received is not None:
            columns["received_at"] = received
        if sla.get("breached") is True:
            columns["sla_breached"] = True
    for entry in entries:
        status = str(entry.status)
        if status == RECEIVED and "received_at" not in columns:
            columns["received_at"] = entry.at
        elif status == SHIPPED and "shipped_at" not in columns:
            columns["shipped_at"] = entry.at
    return columns


def return_rate(rmas: int, sold: int) -> float | None:
    """RMAs per unit sold (an RMA counts once, whatever its quantity), to four places; None
    when none sold."""
    return round(rmas / sold, 4) if sold > 0 else None


@dataclass(frozen=True)
class ProductInsight:
    key: str
    sold: int = 0
    rmas: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    deflected: int = 0
    repairs: int = 0
    # Of the repairs shipped back, the share not back within COMEBACK_WINDOW.
    first_time_fix_rate: float | None = None
    turnaround_p50_hours: float | None = None
    turnaround_p90_hours: float | None = None
    sla_breaches: int = 0
    replacements: int = 0
    plan_claims: int = 0
    goodwill: int = 0
    csat_avg: float | None = None
    feedback_count: int = 0

    @property
    def return_rate(self) -> float | None:
        return return_rate(self.rmas, self.sold)


@dataclass(frozen=True)
class FaultCodeInsight:
    fault_code: str
    count: int
    first_seen: datetime
    last_seen: datetime
