"""Each provider's tracking webhook reader, by provider name: what
POST /v1/carrier-events/<provider> verifies and reads (one line per provider)."""

from __future__ import annotations

from activities.carriers import TrackingWebhook
from activities.carriers.easypost import NAME as EASYPOST
from activities.carriers.easypost import EasyPostWebhook

TRACKING_WEBHOOKS: dict[str, TrackingWebhook] = {
    EASYPOST: EasyPostWebhook(),
}
