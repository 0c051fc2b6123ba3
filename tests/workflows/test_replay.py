"""Replay: recorded histories of finished cases must replay on the current workflow code.

A change that would break running workflows (a reordered activity, a new timer) fails here
unless it sits behind `workflow.patched(...)`. To record a new history after a deliberate,
patched change:
    AFTERSALES_RECORD_HISTORIES=1 make test PYTEST_ARGS=tests/workflows/test_replay.py
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from domain.common import CarrierStatus, Customer, Policy
from domain.ids import new_tracking_token, service_plan_workflow_id
from domain.replacement import CoreReceived
from domain.rma import Grade, InspectionRequest, ReceiveRequest
from domain.service_plan import (
    BillingPeriod,
    ClaimAnswer,
    ClaimRequest,
    ClaimType,
    PlanTerms,
    PlanView,
    ServicePlanStart,
)
from temporal_client import make_data_converter
from tests.support import PAYLOAD_KEY
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


async def _record_service_plan(harness: Harness) -> WorkflowHistory:
    """Three monthly charges, a refused claim, then the term ends without renewal."""
    now = await harness.env.get_current_time()
    plan_id = f"PLN-TEST-{uuid.uuid4().hex[:10].upper()}"
    start = ServicePlanStart(
        plan_id=plan_id,
        org_id=harness.org_id,
        org_name="Test Retailer",
        tracking_token=new_tracking_token(),
        sku="SKU-PLAN",
        serial=f"SN-{uuid.uuid4().hex[:8]}",
        product_name="Speaker",
        category="audio",
        unit_price=Decimal("100.00"),
        policy=Policy(),
        public_base_url="http://aftersales.test",
        terms=PlanTerms(
            code="CARE-3",
            name="Care 3",
            term_months=3,
            billing_period=BillingPeriod.MONTHLY,
            price=Decimal("9.99"),
            claim_limit=1,
            incidents=frozenset({"breakdown"}),
            auto_renew=False,
        ),
        payment_method="pm_ok",
        customer=Customer(name="Grace Hopper", email="grace@example.com"),
    )
    handle = await harness.env.client.start_workflow(
        "ServicePlan",
        start,
        id=service_plan_workflow_id(plan_id),
        task_queue=harness.settings.task_queue,
        result_type=PlanView,
    )
    await handle.execute_update("accept", result_type=PlanView)
    await handle.execute_update(
        "claim", ClaimRequest(ClaimType.REPAIR, "theft"), result_type=ClaimAnswer
    )
    assert now is not None
    await harness.env.sleep(timedelta(days=95))
    assert (await handle.result()).status.value == "expired"
    return await handle.fetch_history()


RECORDERS = {
    "rma_refund_grade_b": _record_refund,
    "replacement_advance_core_returned": _record_advance_replacement,
    "service_plan_expired": _record_service_plan,
}


def _replayer() -> Replayer:
    return Replayer(workflows=list(WORKFLOWS), data_converter=make_data_converter(PAYLOAD_KEY))


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
