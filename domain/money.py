"""Money as Decimal with a currency; never float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_cents(value: Decimal) -> Decimal:
    """Round half up to the cent: the rule for fees and prices."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def floor_cents(value: Decimal) -> Decimal:
    """Round down to the cent: the rule for customer refunds that are prorated."""
    return value.quantize(CENT, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str = "USD"

    def as_json(self) -> dict[str, str]:
        return {"amount": f"{to_cents(self.amount):.2f}", "currency": self.currency}
