"""The customer's voice (lifecycles.md "Resolution feedback"): a rating from 1 to 5 and a
comment, once per case, once the case has ended. A low rating waits for staff to follow it
up."""

from __future__ import annotations

import uuid

from domain.common import CLOSED_STATUSES

MIN_RATING = 1
MAX_RATING = 5
# At or below this the customer was unhappy enough for someone to call them back.
FOLLOW_UP_AT_OR_BELOW = 2

# The webhook event a rating sends, to the retailer and (for a repair job) the center.
FEEDBACK_FAMILY = "feedback"
FEEDBACK_RECEIVED = "feedback.received"

_EVENT_NAMESPACE = uuid.UUID("2f4c8d3e-6b1a-4f0e-9d2c-7a5b3e1f0c84")


def case_ended(status: str) -> bool:
    """Whether a case in this status has ended, whatever its lifecycle."""
    return status in CLOSED_STATUSES


def needs_follow_up(rating: int) -> bool:
    return rating <= FOLLOW_UP_AT_OR_BELOW


def feedback_event_id(case_id: str) -> str:
    """The `feedback.received` event's id: one per case, as the feedback is."""
    return "evt_" + uuid.uuid5(_EVENT_NAMESPACE, f"feedback:{case_id}").hex
