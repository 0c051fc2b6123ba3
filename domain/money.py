"""Money as Decimal with a currency; never float. An amount carries exactly its currency's
minor units (ISO 4217: JPY 0, USD 2, KWD 3): stored, sent to a gateway and printed so."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Final

CENT = Decimal("0.01")

# ISO 4217 minor units of the currencies that do not have two (the list is short and
# stable; every other currency has two). The funds codes with four (CLF, UYW) are units of
# account no shop charges in; the read model stores three decimals at most.
_MINOR_UNITS: Final[Mapping[str, int]] = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
            "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}  # fmt: skip


def minor_units(currency: str) -> int:
    """How many decimals an amount of `currency` has: 0 for JPY, 3 for KWD, else 2."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def minor_unit(currency: str) -> Decimal:
    """The currency's smallest amount: 1 for JPY, 0.01 for USD, 0.001 for KWD."""
    return Decimal(1).scaleb(-minor_units(currency))


def quantize_minor(value: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor unit: the rule for fees and prices."""
    return value.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def floor_minor(value: Decimal, currency: str) -> Decimal:
    """Round down to the currency's minor unit: the rule for prorated customer refunds."""
    return value.quantize(minor_unit(currency), rounding=ROUND_DOWN)


def fits_minor_units(value: Decimal, currency: str) -> bool:
    """Whether `value` has no more decimals than the currency allows (`1234.5` JPY has)."""
    return value == value.quantize(minor_unit(currency), rounding=ROUND_DOWN)


def to_minor(value: Decimal, currency: str) -> int:
    """The amount in the currency's minor units, as payment gateways count it
    (1234 JPY -> 1234, 12.34 USD -> 1234, 1.500 KWD -> 1500)."""
    return int(quantize_minor(value, currency).scaleb(minor_units(currency)))


def from_minor(units: int, currency: str) -> Decimal:
    """An amount counted in minor units back as the currency's Decimal."""
    return Decimal(units).scaleb(-minor_units(currency)).quantize(minor_unit(currency))


def money_text(value: Decimal, currency: str) -> str:
    """The amount as the API and the ledger write it: `1234` JPY, `12.30` USD, `1.500` KWD."""
    return f"{quantize_minor(value, currency):f}"


def to_cents(value: Decimal, currency: str = "USD") -> Decimal:
    """Round half up to the minor unit (the cent of a two-decimal currency)."""
    return quantize_minor(value, currency)


def floor_cents(value: Decimal, currency: str = "USD") -> Decimal:
    """Round down to the minor unit (the cent of a two-decimal currency)."""
    return floor_minor(value, currency)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str = "USD"

    def as_json(self) -> dict[str, str]:
        return {"amount": money_text(self.amount, self.currency), "currency": self.currency}
