"""The customer's rating of an ended case, as they send it and as the retailer reads it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from api.schemas.common import NO_CONTROL_BUT_NEWLINE, Strict, column_length
from db import models
from domain.feedback import MAX_RATING, MIN_RATING

Comment = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=column_length(models.Feedback.comment)),
    NO_CONTROL_BUT_NEWLINE,
]


class FeedbackIn(Strict):
    rating: Annotated[int, Field(ge=MIN_RATING, le=MAX_RATING, strict=True)]
    comment: Comment = ""


class FeedbackOut(BaseModel):
    """On a case's owner view, and in `GET /v1/feedback`."""

    id: str
    rating: int
    comment: str
    needs_follow_up: bool
    created_at: datetime


class FeedbackListItem(FeedbackOut):
    case_id: str
    case_type: str
    followed_up_at: datetime | None = None
