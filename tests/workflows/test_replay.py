"""Replay: recorded histories of finished cases must replay on the current workflow code.

A change that would break running workflows (a reordered activity, a new timer) fails here
unless it sits behind `workflow.patched(...)`. To record a new history after a deliberate,
patched change:
    AFTERSALES_RECORD_HISTORIES=1 make test PYTEST_ARGS=tests/workflows/test_replay.py
Only missing recordings are written: an old one is what workflows started by older code look
like, so it stays (delete a file on purpose to record it again).

One history per lifecycle path: RMA, advance replacement, service plan (recorded before the
payload codec, so their payloads are plain JSON: the codec must pass them through), repair,
relocation and delivery queue (recorded since, encrypted with tests.support.PAYLOAD_KEY).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from db import models
from domain.common import CarrierStatus, Customer, Policy
from domain.delivery import DELIVERY_QUEUE_WORKFLOW, DeliveryQueueStart, QueuedDelivery
from domain.ids import new_tracking_token, service_plan_workflow_id
from domain.relocation import RelocationView, Stage, StageOutcome
from domain.repair import QuoteDecision, RepairCoverage
from domain.replacement import CoreReceived
from domain.rma import Actor, Grade, InspectionRequest, ReceiveRequest
from domain.service_plan import (
    BillingPeriod,
    ClaimAnswer,
    ClaimRequest,
    ClaimType,
    PlanTerms,
    PlanView,
    ServicePlanStart,
)
from temporal_client import ENCRYPTED_ENCODING, make_data_converter
from tests.support import PAYLOAD_KEY, free_port, serve_asgi
from tests.workflows import test_relocation_workflow as relocation
from tests.workflows import test_repair_workflow as repair
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


async def _record_paid_repair(harness: Harness) -> WorkflowHistory:
    """A direct paid repair: label to the center, diagnosis with parts, the quote approved
    and charged, repair, QA, shipped back and delivered."""
    h = harness
    category = repair.new_category()
    center = await repair.add_center(h, category)
    s = repair.repair_start(h, category, coverage=RepairCoverage.PAID)
    handle, _ = await repair.open_repair(h, s)
    tracking = await repair.inbound_tracking(h, s.repair_id)
    await repair.carrier_scan(h, handle, s.repair_id, tracking, CarrierStatus.PICKED_UP)
    await repair.report(handle, repair.S.RECEIVED, center)
    await repair.report(handle, repair.S.DIAGNOSING, center)
    quoted = await repair.send(
        handle, "diagnose", repair.diagnosis(center, [repair.TWO_SCREWS], labor_minutes=90)
    )
    assert quoted.status == "awaiting_approval"
    approved = await repair.send(handle, "decide_quote", QuoteDecision(RETAILER, approve=True))
    assert approved.status == "awaiting_parts"
    await repair.report(handle, repair.S.REPAIRING, center)
    await repair.bench_to_ready(h, handle, center)
    assert (await repair.deliver_back(h, handle, s.repair_id)).status == "completed"
    return await handle.fetch_history()


async def _record_relocation(harness: Harness) -> WorkflowHistory:
    """Uninstall booked and reminded, carried to the new site, reinstalled, commissioned."""
    h = harness
    sku = f"REL-SKU-{uuid.uuid4().hex[:6].upper()}"
    serial = f"SN-{uuid.uuid4().hex[:10]}"
    provider = await relocation.add_provider(h)
    asset = await relocation.add_asset(h, sku, serial)
    s = relocation.relocation_start(
        h, provider_org_id=provider, asset_id=asset, sku=sku, serial=serial
    )
    operation = relocation.start_operation(h, s, None)
    await h.env.client.execute_update_with_start_workflow(
        "accept", start_workflow_operation=operation, result_type=RelocationView
    )
    rel = relocation.Relocation(
        s, await operation.workflow_handle(), Actor("repair_center", provider)
    )
    # Two days out, so the reminder timer fires before the visit.
    await relocation.book(rel, Stage.UNINSTALL, await relocation.now(h) + timedelta(days=2))
    await h.env.sleep(timedelta(days=2, hours=1))
    await relocation.until_reminders(h, rel.id, 1)
    await relocation.report(rel, StageOutcome.UNINSTALLED, relocation.UNINSTALL_CHECKLIST)
    await relocation.through_transport(h, rel)
    await relocation.through_reinstall(h, rel)
    done = await relocation.commission(rel, relocation.ALL_PASSED)
    assert done.status == relocation.R.COMPLETED
    await rel.handle.result()
    return await rel.handle.fetch_history()


class FlakyReceiver:
    """A webhook receiver that is down for its first request, then takes everything."""

    def __init__(self) -> None:
        self.requests = 0
        self.accepted: list[bytes] = []

    async def handle(self, request: Request) -> Response:
        self.requests += 1
        if self.requests == 1:
            return Response(status_code=503)
        self.accepted.append(await request.body())
        return Response(status_code=204)


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[tuple[FlakyReceiver, str]]:
    flaky = FlakyReceiver()
    port = free_port()
    app = Starlette(routes=[Route("/hook", flaky.handle, methods=["POST"])])
    async with serve_asgi(app, port):
        yield flaky, f"http://127.0.0.1:{port}/hook"


async def _record_delivery_queue(
    harness: Harness, receiver: tuple[FlakyReceiver, str]
) -> WorkflowHistory:
    """Two events of one case for one subscription: the first is refused once and retried
    after a backoff, the second follows it in order; the queue closes once idle."""
    flaky, url = receiver
    h = harness
    now = await h.env.get_current_time()
    case_id = f"RMA-REPLAY-{uuid.uuid4().hex[:8].upper()}"
    async with h.sessions.begin() as session:
        org = models.Organisation(name="Replay Shop", kind="retailer")
        session.add(org)
        await session.flush()
        sub = models.WebhookSubscription(org_id=org.id, url=url, events=["*"], secret="s3cret")
        session.add(sub)
        await session.flush()
        deliveries = [
            models.WebhookDelivery(
                subscription_id=sub.id,
                case_id=case_id,
                seq=seq,
                event_id=f"evt_{case_id}_{seq}",
                type="rma.awaiting_return",
                payload={"event_id": f"evt_{case_id}_{seq}"},
                created_at=now,
            )
            for seq in (1, 2)
        ]
        session.add_all(deliveries)
    handle = await h.env.client.start_workflow(
        DELIVERY_QUEUE_WORKFLOW,
        DeliveryQueueStart("webhook", timedelta(hours=1), timedelta(seconds=10)),
        id=f"webhooks:{sub.id}:{case_id}",
        task_queue=h.settings.task_queue,
        start_signal="enqueue",
        start_signal_args=[QueuedDelivery(deliveries[0].id, 1, now)],
    )
    await handle.signal("enqueue", QueuedDelivery(deliveries[1].id, 2, now))
    await handle.result()
    assert [b.count(b"evt_") for b in flaky.accepted[-2:]] == [1, 1]
    assert f"evt_{case_id}_1".encode() in flaky.accepted[-2]
    assert f"evt_{case_id}_2".encode() in flaky.accepted[-1]
    return await handle.fetch_history()


RECORDERS = {
    "rma_refund_grade_b": _record_refund,
    "replacement_advance_core_returned": _record_advance_replacement,
    "service_plan_expired": _record_service_plan,
    "repair_paid_quote_approved": _record_paid_repair,
    "relocation_completed": _record_relocation,
}


def _replayer() -> Replayer:
    return Replayer(workflows=list(WORKFLOWS), data_converter=make_data_converter(PAYLOAD_KEY))


DELIVERY_QUEUE = "delivery_queue_retried"
# Recorded before the payload codec existed: plain JSON payloads.
PLAIN = {"rma_refund_grade_b", "replacement_advance_core_returned", "service_plan_expired"}


def _replays_and_is_kept(name: str, history: WorkflowHistory) -> None:
    path = HISTORIES / f"{name}.json"
    if os.environ.get("AFTERSALES_RECORD_HISTORIES") and not path.exists():
        path.write_text(history.to_json())


@pytest.mark.parametrize("name", sorted(RECORDERS))
async def test_a_fresh_history_replays(harness: Harness, name: str) -> None:
    history = await RECORDERS[name](harness)
    await _replayer().replay_workflow(history)
    _replays_and_is_kept(name, history)


async def test_a_fresh_delivery_queue_history_replays(
    harness: Harness, receiver: tuple[FlakyReceiver, str]
) -> None:
    history = await _record_delivery_queue(harness, receiver)
    await _replayer().replay_workflow(history)
    _replays_and_is_kept(DELIVERY_QUEUE, history)


def test_every_lifecycle_path_has_a_recorded_history() -> None:
    recorded = {path.stem for path in HISTORIES.glob("*.json")}
    assert recorded == {*RECORDERS, DELIVERY_QUEUE}
    for name in recorded:
        text = (HISTORIES / f"{name}.json").read_text()
        if name in PLAIN:
            assert ENCRYPTED_ENCODING.decode() not in str(WorkflowHistory.from_json(name, text))
            continue
        # What a recording made since the codec holds of its customer: ciphertext only.
        events = WorkflowHistory.from_json(name, text).events
        (started,) = [
            e for e in events if e.HasField("workflow_execution_started_event_attributes")
        ]
        (payload,) = started.workflow_execution_started_event_attributes.input.payloads
        assert payload.metadata["encoding"] == ENCRYPTED_ENCODING
        for detail in ("Ada Lovelace", "ada@example.com", "5 Turing Way"):
            assert detail not in text


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_histories_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())  # noqa: ASYNC240 - tiny
    await _replayer().replay_workflow(history)
