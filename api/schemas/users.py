"""Schemas of console users: what creating one takes and what listing shows (never a
password nor its hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from api.schemas.common import NO_CONTROL, Strict, column_length
from db import models

# Enough to refuse a typo; whether the address receives mail is the owner's business.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PASSWORD_MIN = 10
PASSWORD_MAX = 200

Role = Literal["owner", "staff", "technician"]


def _lower(value: str) -> str:
    return value.lower()


Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=column_length(models.User.email), pattern=EMAIL_PATTERN
    ),
    # The pattern lets NUL and DEL through (they are not whitespace).
    NO_CONTROL,
    AfterValidator(_lower),
]
UserName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=column_length(models.User.name)
    ),
    NO_CONTROL,
]
Password = Annotated[
    str, StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX), NO_CONTROL
]


class UserCreate(Strict):
    email: Email = Field(description="the sign-in; unique across every organisation")
    name: UserName = Field(description="shown on the timeline of what they do")
    role: Role = Field(
        description="`owner` or `staff` in a retailer; `owner` or `technician` in a repair center"
    )
    password: Password = Field(
        description=f"{PASSWORD_MIN} to {PASSWORD_MAX} characters; stored as an argon2 hash"
    )


class UserPublic(BaseModel):
    id: str
    email: str
    name: str
    role: Role


class UserInfo(UserPublic):
    """A user as listed: with when they were made and disabled."""

    created_at: datetime
    disabled_at: datetime | None
