"""Business-key identifiers: case IDs, workflow IDs, task queues, idempotency keys."""

from __future__ import annotations

import secrets

TASK_QUEUE = "aftersales"

# Crockford's base32 without look-alike letters: easy to read out on the phone.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_case_id(prefix: str, year: int) -> str:
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{prefix}-{year}-{suffix}"


def new_tracking_token() -> str:
    """192 random bits, URL-safe: the customer's only credential for a case."""
    return secrets.token_urlsafe(24)


def rma_workflow_id(rma_id: str) -> str:
    return f"rma:{rma_id}"


def step_key(workflow_id: str, step: str) -> str:
    """Idempotency key of one side effect: the same step of the same case is done once."""
    return f"{workflow_id}/{step}"
