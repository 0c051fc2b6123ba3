"""Insight's answers (GET /v1/insights/...)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ProductInsightOut(BaseModel):
    key: str = Field(description="the sku, category or repair center's organisation id")
    sold: int = Field(description="units on the retailer's order lines for this key")
    rmas: int
    return_rate: float | None = Field(description="rmas / sold; null when none sold")
    reasons: dict[str, int] = Field(description="RMAs by the reason given")
    deflected: int = Field(description="returns the portal's troubleshooting steps avoided")
    repairs: int
    first_time_fix_rate: float | None = Field(
        description="of the repairs shipped back, the share whose unit did not come back "
        "for another repair within 90 days; null when none was shipped"
    )
    turnaround_p50_hours: float | None = Field(description="received to shipped, median")
    turnaround_p90_hours: float | None = Field(description="received to shipped, 90th")
    sla_breaches: int
    replacements: int
    plan_claims: int = Field(description="repairs and replacements a service plan covers")
    goodwill: int = Field(description="cases accepted as goodwill")
    csat_avg: float | None = Field(description="mean customer rating (1-5)")
    feedback_count: int


class ProductInsights(BaseModel):
    items: list[ProductInsightOut]


class FaultCodeOut(BaseModel):
    fault_code: str
    count: int
    first_seen: datetime
    last_seen: datetime


class FaultCodes(BaseModel):
    items: list[FaultCodeOut]
