"""Each payment gateway's webhook events by provider name: `POST /v1/payment-events/{name}`
reads and verifies them with the reader here. A gateway with events adds one line."""

from __future__ import annotations

from activities.gateways import EventReader
from activities.gateways.stripe import STRIPE, StripeEvents

READERS: dict[str, EventReader] = {
    STRIPE: StripeEvents(),
}
