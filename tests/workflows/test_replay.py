"""Replay: recorded histories of finished cases must replay on the current workflow code.

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
from domain.replacement import CoreReceived
from domain.rma import Grade, InspectionRequest, ReceiveRequest
from temporal_client import data_converter
from tests.workflows.conftest import Harness
from tests.workflows.test_replacement_workflow import (
    add_stock,
    advance_start,
    deliver,
    new_sku,
    open_replacement,
    send,
    wait_for_status,
)
from tests.workflows.test_rma_workflow import (
    RETAILER,
    clock,
    rma_start,
    scan,
    start,
    update,
    wait_for_label,
)
from worker import WORKFLOWS

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


async def _record_advance_replacement(harness: Harness) -> WorkflowHistory:
    sku = new_sku()
    await add_stock(harness, sku, 1)
    s = advance_start(harness, sku)
    handle, _ = await open_replacement(harness, s)
    await deliver(harness, handle, s)
    await wait_for_status(harness, s.replacement_id, "awaiting_core")
    await send(handle, "core_received", CoreReceived(RETAILER))
    await handle.result()
    return await handle.fetch_history()


RECORDERS = {
    "rma_refund_grade_b": _record_refund,
    "replacement_advance_core_returned": _record_advance_replacement,
}


def _replayer() -> Replayer:
    return Replayer(workflows=list(WORKFLOWS), data_converter=data_converter)


@pytest.mark.parametrize("name", sorted(RECORDERS))
async def test_a_fresh_history_replays(harness: Harness, name: str) -> None:
    history = await RECORDERS[name](harness)
    await _replayer().replay_workflow(history)
    if os.environ.get("AFTERSALES_RECORD_HISTORIES"):
        (HISTORIES / f"{name}.json").write_text(history.to_json())


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_histories_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())  # noqa: ASYNC240 - tiny
    await _replayer().replay_workflow(history)
