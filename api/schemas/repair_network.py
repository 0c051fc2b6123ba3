"""Schemas of a retailer's repair network: the repair centers its jobs may be routed to."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from api.schemas.common import NO_CONTROL, Strict, column_length
from db import models

OrgId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=column_length(models.Organisation.id)),
    NO_CONTROL,
]

# A network names the centers a retailer contracts with: far fewer than this in practice,
# and a bound keeps one PUT from writing an unbounded number of rows.
MAX_CENTERS = 200


class RepairNetwork(Strict):
    centers: list[OrgId] | None = Field(
        default=None,
        max_length=MAX_CENTERS,
        description="repair center org ids routing may choose from; empty or null: every center",
    )


class RepairNetworkPublic(BaseModel):
    centers: list[str] = Field(
        description="the repair centers routing chooses from, in the order given; "
        "empty: every center"
    )
