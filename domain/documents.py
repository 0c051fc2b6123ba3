"""What the PDF renderers take: plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.common import Address


@dataclass
class LabelData:
    """A 4x6 in parcel label (`return_label` or `shipping_label`)."""

    carrier: str
    service: str
    tracking_number: str
    case_number: str
    from_address: Address
    to_address: Address
    tracking_url: str
    kind: str = "return_label"
    weight: str = ""


@dataclass
class SlipItem:
    sku: str
    description: str
    serial: str
    quantity: int
    reason: str = ""


@dataclass
class PackingSlipData:
    case_number: str
    order_ref: str
    retailer_name: str
    customer_first_name: str
    items: list[SlipItem]
    tracking_number: str
    ship_by: str
    instructions: list[str] = field(default_factory=list)
