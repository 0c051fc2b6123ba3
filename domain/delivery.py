"""The delivery queue's messages: what the worker and the API hand to a `DeliveryQueue`
workflow (webhook events of one case for one subscription, or the emails of one case)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Referred to by name: neither activities nor the API import workflow code.
DELIVERY_QUEUE_WORKFLOW = "DeliveryQueue"
ENQUEUE_SIGNAL = "enqueue"
# Several deliveries of one queue in one signal (a workflow task for all of them).
ENQUEUE_MANY_SIGNAL = "enqueue_many"


@dataclass
class QueuedDelivery:
    id: str
    seq: int
    # The retry window runs from here: the event, or the moment a redelivery was asked for.
    created_at: datetime
    # 0 for the first delivery, then one more per redelivery: a queue that already sent
    # round 0 must still take round 1.
    round: int = 0

    @property
    def key(self) -> str:
        return f"{self.id}:{self.round}"


@dataclass
class QueuedDeliveries:
    items: list[QueuedDelivery]


@dataclass
class DeliveryQueueStart:
    channel: str  # "webhook" | "email"
    retry_window: timedelta
    first_retry: timedelta
    # Still to deliver, carried across continue-as-new in order.
    pending: list[QueuedDelivery] = field(default_factory=list)


@dataclass
class DeliveryRef:
    id: str
    channel: str = "webhook"


@dataclass
class DeliveryOutcome:
    status: str


@dataclass
class DeliveryRun:
    """Webhook deliveries of one queue to attempt once each, in order, in one activity."""

    refs: list[DeliveryRef]


@dataclass
class DeliveryRunOutcome:
    # How many of the run, from its first, have ended (delivered, or failed for good); the
    # one after them was not accepted, and it and the rest are left pending.
    ended: int
