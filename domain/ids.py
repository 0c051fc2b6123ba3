"""Business-key identifiers: case IDs, workflow IDs, task queues, idempotency keys."""

from __future__ import annotations

import secrets

TASK_QUEUE = "aftersales"

# Crockford's base32 without look-alike letters: easy to read out on the phone.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# 16 symbols of 5 bits: 80 random bits, so ids drawn by every tenant together stay unique
# (a collision is expected only after about 2^40 cases), in groups of 4 to read out.
CASE_ID_SYMBOLS = 16
_GROUP = 4


def new_case_id(prefix: str, year: int) -> str:
    symbols = "".join(secrets.choice(_ALPHABET) for _ in range(CASE_ID_SYMBOLS))
    groups = [symbols[i : i + _GROUP] for i in range(0, CASE_ID_SYMBOLS, _GROUP)]
    return f"{prefix}-{year}-{'-'.join(groups)}"


def new_tracking_token() -> str:
    """192 random bits, URL-safe: the customer's only credential for a case."""
    return secrets.token_urlsafe(24)


def rma_workflow_id(rma_id: str) -> str:
    return f"rma:{rma_id}"


def repair_workflow_id(repair_id: str) -> str:
    return f"repair:{repair_id}"


def replacement_workflow_id(replacement_id: str) -> str:
    return f"replacement:{replacement_id}"


def relocation_workflow_id(relocation_id: str) -> str:
    return f"relocation:{relocation_id}"


def installation_workflow_id(installation_id: str) -> str:
    return f"installation:{installation_id}"


def service_plan_workflow_id(plan_id: str) -> str:
    return f"service_plan:{plan_id}"


def child_case_id(parent_id: str, prefix: str) -> str:
    """A case started by another keeps its parent's number under its own prefix
    (RMA-2026-7K3M-9QXA-B2CD-EF01 → REP-2026-7K3M-9QXA-B2CD-EF01): deterministic, so a
    workflow can name it."""
    _, rest = parent_id.split("-", 1)
    return f"{prefix}-{rest}"


def step_key(workflow_id: str, step: str) -> str:
    """Idempotency key of one side effect: the same step of the same case is done once."""
    return f"{workflow_id}/{step}"
