"""What the delivery queue workflow needs of the notify activities (activities/notify.py):
their timeouts. The request and results (`DeliveryRef`, `DeliveryOutcome`) are in
`domain.delivery`."""

from __future__ import annotations

from datetime import timedelta

# The start-to-close of one webhook POST or SMTP send.
ATTEMPT_TIMEOUT = timedelta(seconds=30)
# Heartbeat timeout of the attempts that heartbeat: a worker that died in the middle of one
# is noticed within this, instead of the whole ATTEMPT_TIMEOUT.
HEARTBEAT_TIMEOUT = timedelta(seconds=5)
