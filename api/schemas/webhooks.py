"""Webhook subscriptions and their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BeforeValidator,
    Field,
    UrlConstraints,
    field_validator,
)

from api.schemas.common import NO_CONTROL, Strict, column_length
from db import models
from domain.events import MAX_PATTERNS, pattern_problem

_URL_MAX = column_length(models.WebhookSubscription.url)


def _no_control_before_parsing(value: object) -> object:
    # The URL parser would silently drop a tab or escape a NUL: refuse them as typed.
    return NO_CONTROL.check(value) if isinstance(value, str) else value


def _stored_length_fits(url: AnyHttpUrl) -> AnyHttpUrl:
    # Normalising percent-encodes non-ASCII characters, so a URL short as typed can grow
    # past what its column holds.
    if len(str(url)) > _URL_MAX:
        raise ValueError(f"the URL, percent-encoded, is longer than {_URL_MAX} characters")
    return url


WebhookUrl = Annotated[
    AnyHttpUrl,
    UrlConstraints(max_length=_URL_MAX, allowed_schemes=["http", "https"]),
    BeforeValidator(_no_control_before_parsing),
    AfterValidator(_stored_length_fits),
]
# A pattern is at most as long as an event type it could match.
EventPattern = Annotated[
    str, Field(min_length=1, max_length=column_length(models.WebhookDelivery.type)), NO_CONTROL
]


class WebhookCreate(Strict):
    url: WebhookUrl
    events: list[EventPattern] = Field(
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
        "HMAC-SHA256 of t + '.' + body>, and the Standard Webhooks headers webhook-id, "
        "webhook-timestamp, webhook-signature); shown to the subscriber's organisation only"
    )


class WebhookSecret(Strict):
    secret: str = Field(description="the new signing secret; shown once")
    previous_secret_expires_at: datetime = Field(
        description="until then deliveries are signed with the previous secret too"
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
