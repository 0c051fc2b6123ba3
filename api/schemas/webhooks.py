"""Webhook subscriptions and their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AnyHttpUrl, Field, UrlConstraints, field_validator

from api.schemas.common import Strict
from domain.events import MAX_PATTERNS, pattern_problem

WebhookUrl = Annotated[
    AnyHttpUrl, UrlConstraints(max_length=2000, allowed_schemes=["http", "https"])
]


class WebhookCreate(Strict):
    url: WebhookUrl
    events: list[str] = Field(
        min_length=1,
        max_length=MAX_PATTERNS,
        description="event types or patterns: '*', 'rma.*', 'repair.completed', '*.completed'",
        examples=[["rma.*", "repair.completed"]],
    )

    @field_validator("events")
    @classmethod
    def _patterns(cls, events: list[str]) -> list[str]:
        problems = [p for p in (pattern_problem(e) for e in events) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return list(dict.fromkeys(events))


class WebhookPublic(Strict):
    id: str
    url: str
    events: list[str]
    created_at: datetime
    disabled_at: datetime | None = None


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="signs every delivery (X-Aftersales-Signature: t=<unix>,v1=<hex "
        "HMAC-SHA256 of t + '.' + body>); shown to the subscriber's organisation only"
    )


class AttemptOut(Strict):
    number: int
    at: datetime
    status_code: int | None
    error: str
    duration_ms: int


class DeliveryOut(Strict):
    id: str
    event_id: str
    type: str
    case_id: str
    status: str = Field(description="pending, delivered or failed")
    redeliveries: int = Field(0, description="times the subscriber asked for it again")
    attempts: list[AttemptOut]
    created_at: datetime
    delivered_at: datetime | None
    failed_at: datetime | None
