"""Replay: recorded histories of finished RMAs must replay on the current workflow code.

A change that would break running workflows (a reordered activity, a new timer) fails here
unless it sits behind `workflow.patched(...)`. To record a new history after a deliberate,
patched change:
    AFTERSALES_RECORD_HISTORIES=1 make test PYTEST_ARGS=tests/workflows/test_replay.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from domain.common import CarrierStatus
from domain.rma import Grade, InspectionRequest, ReceiveRequest
from temporal_client import data_converter
from tests.workflows.conftest import Harness
from tests.workflows.test_rma_workflow import (
    RETAILER,
    clock,
    rma_start,
    scan,
    start,
    update,
    wait_for_label,
)
from workflows.rma import RmaWorkflow

HISTORIES = Path(__file__).parent / "histories"


async def _record_refund(harness: Harness) -> WorkflowHistory:
    s = rma_start(harness, now=await clock(harness))
    handle, _ = await start(harness, s)
    tracking = await wait_for_label(harness, handle, s.rma_id)
    await handle.signal("carrier_event", scan(tracking, CarrierStatus.PICKED_UP))
    await update(handle, "receive", ReceiveRequest(actor=RETAILER))
    await update(handle, "inspect", InspectionRequest(RETAILER, Grade.B, True))
    await handle.result()
    return await handle.fetch_history()


async def test_a_fresh_history_replays(harness: Harness) -> None:
    history = await _record_refund(harness)
    await Replayer(workflows=[RmaWorkflow], data_converter=data_converter).replay_workflow(history)
    if os.environ.get("AFTERSALES_RECORD_HISTORIES"):
        (HISTORIES / "rma_refund_grade_b.json").write_text(history.to_json())


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_histories_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())  # noqa: ASYNC240 - tiny
    await Replayer(workflows=[RmaWorkflow], data_converter=data_converter).replay_workflow(history)
