"""A case started over HTTP starts with the code generation's memo, so its history marks no
patch (`workflows.patches`), and the history replays on the worker's code."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowHandle, WorkflowHistory

from domain.common import CODE_GENERATION, CODE_GENERATION_MEMO
from domain.ids import rma_workflow_id
from tests.api.helpers import customer
from tests.api.test_payload_encryption_e2e import _case_with_a_label
from tests.support import Stack, replayer

pytestmark = pytest.mark.e2e


async def test_a_case_started_over_http_marks_no_patch(stack: Stack) -> None:
    rma_id = await _case_with_a_label(stack, customer("Gen Eration"))
    handle = stack.client.get_workflow_handle(rma_workflow_id(rma_id))
    description = await handle.describe()
    assert await description.memo_value(CODE_GENERATION_MEMO) == CODE_GENERATION
    history = await _past_the_label(handle)
    markers = [
        e.marker_recorded_event_attributes.marker_name
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    ]
    # The record and the label step, each one local activity; no patch marker beside them.
    assert markers == ["core_local_activity", "core_local_activity"]
    assert not any(
        e.HasField("upsert_workflow_search_attributes_event_attributes") for e in history.events
    )
    await replayer().replay_workflow(history)


async def _past_the_label(handle: WorkflowHandle[object, object]) -> WorkflowHistory:
    """The history once the label step's workflow task completed: the label is in the read
    model as soon as its step commits, and its marker reaches the history with the task that
    ran the step, a moment later (with the return window's timer)."""
    for _ in range(200):
        history = await handle.fetch_history()
        if any(e.HasField("timer_started_event_attributes") for e in history.events):
            return history
        await asyncio.sleep(0.05)
    raise AssertionError("the label step's workflow task never completed")
