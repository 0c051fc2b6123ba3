"""Schemas of the service-plan catalog (lifecycles.md §5 fields, plus `code` and `name`)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from api.schemas.common import (
    NO_CONTROL,
    Amount,
    MoneyIO,
    NonNegativeDuration,
    Strict,
    check_amount,
    column_length,
)
from db import models
from domain.service_plan import BillingPeriod, ClaimType, PlanTerms

Code = Annotated[
    str,
    Field(
        min_length=1,
        max_length=column_length(models.PlanCatalogEntry.code),
        pattern=r"^[A-Za-z0-9._\-]+$",
    ),
]
Incident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]


class PlanTermsIn(Strict):
    """Everything but the code: what `PUT /v1/plans/{code}` replaces."""

    name: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True,
            min_length=1,
            max_length=column_length(models.PlanCatalogEntry.name),
        ),
        NO_CONTROL,
    ]
    term_months: Annotated[int, Field(ge=1, le=240)]
    billing_period: BillingPeriod
    price: MoneyIO | Amount = Field(description="per billing period; per term when upfront")
    claim_limit: Annotated[int, Field(ge=0, le=1000)] = Field(
        description="approved claims per rolling 12 months"
    )
    deductibles: dict[ClaimType, MoneyIO | Amount] = Field(default_factory=dict)
    waiting_period: NonNegativeDuration = timedelta(0)
    incidents: Annotated[list[Incident], Field(min_length=1, max_length=50)]
    cancel_full_refund_within: NonNegativeDuration = timedelta(days=30)
    auto_renew: bool = True
    renewal_notice: NonNegativeDuration = Field(
        timedelta(days=30), description="how long before the term ends the customer is told"
    )

    @model_validator(mode="after")
    def _whole_years(self) -> PlanTermsIn:
        if self.billing_period is BillingPeriod.ANNUAL and self.term_months % 12:
            raise ValueError("an annual plan's term_months must be a multiple of 12")
        return self

    def check_amounts(self, currency: str) -> None:
        """The price and deductibles as amounts of the catalog's currency (the retailer
        policy's); AmountError naming the first with more decimals than it has, or in another."""
        fields: list[tuple[tuple[str, ...], MoneyIO | Decimal]] = [(("price",), self.price)]
        fields += [(("deductibles", kind), value) for kind, value in self.deductibles.items()]
        for field, value in fields:
            check_amount(field, value, currency)

    def to_domain(self, code: str) -> PlanTerms:
        return PlanTerms(
            code=code,
            name=self.name,
            term_months=self.term_months,
            billing_period=self.billing_period,
            price=_amount(self.price),
            claim_limit=self.claim_limit,
            deductibles={kind: _amount(value) for kind, value in self.deductibles.items()},
            waiting_period=self.waiting_period,
            incidents=frozenset(self.incidents),
            cancel_full_refund_within=self.cancel_full_refund_within,
            auto_renew=self.auto_renew,
            renewal_notice=self.renewal_notice,
        )


class PlanCreate(PlanTermsIn):
    code: Code


class PlanPublic(BaseModel):
    id: str
    code: str
    name: str
    term_months: int
    billing_period: BillingPeriod
    price: MoneyIO
    claim_limit: int
    deductibles: dict[ClaimType, MoneyIO]
    waiting_period: timedelta
    incidents: list[str]
    cancel_full_refund_within: timedelta
    renewal_notice: timedelta
    auto_renew: bool


def _amount(value: MoneyIO | Decimal) -> Decimal:
    # As checked when written (`check_amounts`): the reader writes it in its currency's
    # minor units (a KWD price keeps its third decimal).
    return value.amount if isinstance(value, MoneyIO) else value
