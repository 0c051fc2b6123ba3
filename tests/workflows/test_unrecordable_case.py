"""A case whose data the read model refuses for good ends at once with a clear refusal,
instead of its workflow retrying the first record for ever while its creator is told 503
`decision_pending` (#13 item 2)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from db import models
from domain.common import INVALID_DATA
from tests.workflows.kit import Harness, add_asset, relocation_operation, relocation_start, typed
from workflows.relocation import RelocationWorkflow


async def test_a_case_that_cannot_be_stored_is_refused_and_ends(harness: Harness) -> None:
    sku, serial = "REL-SKU-ORPHAN", f"SN-{uuid.uuid4().hex[:10]}"
    asset = await add_asset(harness, sku, serial)
    # A provider the read model does not know: the insert breaks a foreign key on SQLite and
    # PostgreSQL alike, as an over-long or NUL-bearing value breaks PostgreSQL. Retrying
    # cannot help.
    orphan = relocation_start(
        harness, provider_org_id="no-such-provider", asset_id=asset, sku=sku, serial_number=serial
    )
    operation = relocation_operation(harness, orphan)

    # The create call, as the API makes it: its answer is a refusal, in seconds.
    create = harness.env.client.execute_update_with_start_workflow(
        typed(RelocationWorkflow.accept), start_workflow_operation=operation
    )
    try:
        await asyncio.wait_for(create, timeout=30)
    except WorkflowUpdateFailedError as refused:
        cause = refused.cause
    else:
        raise AssertionError("the create call answered although nothing was stored")
    assert isinstance(cause, ApplicationError)
    assert cause.type == INVALID_DATA
    assert "FOREIGN KEY" in cause.message.upper()

    # The workflow has ended, failed with the same reason: nothing waits for ever.
    handle = await operation.workflow_handle()
    try:
        await asyncio.wait_for(handle.result(), timeout=30)
    except WorkflowFailureError as failed:
        assert isinstance(failed.cause, ApplicationError)
        assert failed.cause.type == INVALID_DATA
    else:
        raise AssertionError("the workflow went on without its case")
    async with harness.sessions() as session:
        assert await session.get(models.Case, orphan.relocation_id) is None
        entries = await session.scalars(
            select(models.TimelineEvent).where(models.TimelineEvent.case_id == orphan.relocation_id)
        )
        assert not entries.all()
