"""Replay: recorded histories of finished cases must replay on the current workflow code.

A change that would break running workflows (a reordered activity, a new timer) fails here
unless it sits behind `workflow.patched(...)`. To record a new history after a deliberate,
patched change:
    AFTERSALES_RECORD_HISTORIES=1 make test PYTEST_ARGS=tests/workflows/test_replay.py
Only missing recordings are written: an old one is what workflows started by older code look
like, so it stays (delete a file on purpose to record it again).

One history per lifecycle path: RMA, advance replacement, service plan (recorded before the
payload codec, so their payloads are plain JSON: the codec must pass them through), repair,
relocation, installation and delivery queue (recorded since, encrypted with
tests.support.PAYLOAD_KEY);
the paid repair also as each later patch of its steps recorded it, and a yen plan's
cancellation as recorded before `MINOR_UNITS_PATCH` (its refund in hundredths).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.client import WorkflowHistory

from db import models
from domain.appointments import ChecklistItem
from domain.common import CarrierStatus, Policy
from domain.contracts.payments import PaymentEvent
from domain.delivery import ENQUEUE_SIGNAL, DeliveryQueueStart, QueuedDelivery
from domain.ids import service_plan_workflow_id
from domain.installation import InstallationReschedule, InstallationStatus, VisitOutcome
from domain.relocation import RelocationStatus, Stage, StageOutcome
from domain.repair import QuoteDecision, RepairCoverage, RepairStatus
from domain.replacement import CoreReceived, ReplacementMode
from domain.service_plan import BillingPeriod, ClaimRequest, ClaimType, PlanCancel
from temporal_client import ENCRYPTED_ENCODING
from tests.support import SECRET_BOX, free_port, replayer, serve_asgi
from tests.workflows.kit import (
    ALL_PASSED,
    INSTALL_CHECKLIST,
    RETAILER,
    TWO_SCREWS,
    UNINSTALL_CHECKLIST,
    Harness,
    add_center,
    add_stock,
    bench_to_ready,
    book,
    book_visit,
    carrier_scan,
    commission,
    commission_installation,
    deliver,
    deliver_back,
    diagnosis,
    inbound_tracking,
    new_category,
    new_sku,
    new_terms,
    now,
    open_installation,
    open_plan,
    open_relocation,
    open_repair,
    open_replacement,
    payments,
    plan_start,
    refunded_rma,
    repair_start,
    replacement_start,
    report_stage,
    report_status,
    report_visit,
    through_reinstall,
    through_transport,
    typed,
    until_event,
    until_reminders,
    until_status,
)
from workflows.delivery_queue import DeliveryQueueWorkflow
from workflows.installation import InstallationWorkflow
from workflows.repair import RepairWorkflow
from workflows.replacement import ReplacementWorkflow
from workflows.service_plan import ServicePlanWorkflow

HISTORIES = Path(__file__).parent / "histories"


async def _record_advance_replacement(harness: Harness) -> WorkflowHistory:
    sku = new_sku()
    await add_stock(harness, sku, 1)
    s = replacement_start(harness, sku, mode=ReplacementMode.ADVANCE)
    handle, _ = await open_replacement(harness, s)
    await deliver(harness, handle, s)
    await until_status(harness, s.replacement_id, "awaiting_core")
    await handle.execute_update(typed(ReplacementWorkflow.core_received), CoreReceived(RETAILER))
    await handle.result()
    return await handle.fetch_history()


async def _record_authenticated_hold(harness: Harness) -> WorkflowHistory:
    """An advance replacement whose deposit hold the customer authenticated (3-D Secure,
    the built-in gateway's `pm_requires_action`): paused, resumed by the payment event,
    shipped, delivered, core returned."""
    sku = new_sku()
    await add_stock(harness, sku, 1)
    s = replacement_start(
        harness, sku, mode=ReplacementMode.ADVANCE, payment_method="pm_requires_action"
    )
    handle, _ = await open_replacement(harness, s)
    await until_event(harness, s.replacement_id, "payment_authentication_required")
    (hold,) = await payments(harness, s.replacement_id, "hold")
    await handle.signal(
        ReplacementWorkflow.payment_event, PaymentEvent(hold.gateway_reference, True)
    )
    await until_status(harness, s.replacement_id, "shipped")
    await deliver(harness, handle, s)
    await until_status(harness, s.replacement_id, "awaiting_core")
    await handle.execute_update(typed(ReplacementWorkflow.core_received), CoreReceived(RETAILER))
    await handle.result()
    return await handle.fetch_history()


async def _record_service_plan(harness: Harness) -> WorkflowHistory:
    """Three monthly charges, a refused claim, then the term ends without renewal: started,
    then accepted, as the API once did."""
    s = plan_start(harness, new_terms(claim_limit=1, incidents=frozenset({"breakdown"})))
    handle = await harness.env.client.start_workflow(
        ServicePlanWorkflow.run,
        s,
        id=service_plan_workflow_id(s.plan_id),
        task_queue=harness.settings.task_queue,
    )
    await handle.execute_update(typed(ServicePlanWorkflow.accept))
    await handle.execute_update(
        typed(ServicePlanWorkflow.claim), ClaimRequest(ClaimType.REPAIR, "theft")
    )
    await harness.env.sleep(timedelta(days=95))
    assert (await handle.result()).status.value == "expired"
    return await handle.fetch_history()


async def _record_yen_plan_cancelled(harness: Harness) -> WorkflowHistory:
    """A yen plan of 1 JPY a year cancelled after its full-refund window, recorded before
    `MINOR_UNITS_PATCH`: its refund, computed in hundredths then, is 0.88 and was paid (in
    whole yen it is 0 and pays nothing), so only the patch's old branch replays it."""
    terms = new_terms(term_months=12, billing_period=BillingPeriod.ANNUAL, price=Decimal("1"))
    s = plan_start(harness, terms, policy=Policy(currency="JPY"))
    handle, _ = await open_plan(harness, s)
    await harness.env.sleep(timedelta(days=40))
    await handle.execute_update(typed(ServicePlanWorkflow.cancel), PlanCancel())
    assert (await handle.result()).status.value == "cancelled"
    return await handle.fetch_history()


async def _record_paid_repair(harness: Harness) -> WorkflowHistory:
    """A direct paid repair: label to the center, diagnosis with parts, the quote approved
    and charged, repair, QA, shipped back and delivered."""
    h = harness
    category = new_category()
    center = await add_center(h, category)
    s = repair_start(h, category, coverage=RepairCoverage.PAID)
    handle, _ = await open_repair(h, s)
    tracking = await inbound_tracking(h, s.repair_id)
    await carrier_scan(h, handle, s.repair_id, tracking, CarrierStatus.PICKED_UP)
    await report_status(handle, RepairStatus.RECEIVED, center)
    await report_status(handle, RepairStatus.DIAGNOSING, center)
    quoted = await handle.execute_update(
        typed(RepairWorkflow.diagnose), diagnosis(center, [TWO_SCREWS], labor_minutes=90)
    )
    assert quoted.status == "awaiting_approval"
    approved = await handle.execute_update(
        typed(RepairWorkflow.decide_quote), QuoteDecision(RETAILER, approve=True)
    )
    assert approved.status == "awaiting_parts"
    await report_status(handle, RepairStatus.REPAIRING, center)
    await bench_to_ready(handle, center)
    assert (await deliver_back(h, handle, s.repair_id)).status == "completed"
    return await handle.fetch_history()


async def _record_relocation(harness: Harness) -> WorkflowHistory:
    """Uninstall booked and reminded, carried to the new site, reinstalled, commissioned."""
    h = harness
    rel, _ = await open_relocation(h)
    # Two days out, so the reminder timer fires before the visit.
    await book(rel, Stage.UNINSTALL, await now(h) + timedelta(days=2))
    await h.env.sleep(timedelta(days=2, hours=1))
    await until_reminders(h, rel.id, 1)
    await report_stage(rel, StageOutcome.UNINSTALLED, UNINSTALL_CHECKLIST)
    await through_transport(h, rel)
    await through_reinstall(h, rel)
    done = await commission(rel, ALL_PASSED)
    assert done.status == RelocationStatus.COMPLETED
    await rel.handle.result()
    return await rel.handle.fetch_history()


async def _record_installation(harness: Harness) -> WorkflowHistory:
    """A visit booked, reminded, rescheduled by the customer, booked again, installed; a
    failed commissioning, then a passing one with the training given."""
    h = harness
    ins, _ = await open_installation(h, training=True)
    await book_visit(ins, await now(h) + timedelta(days=2))
    await h.env.sleep(timedelta(days=1, hours=1))
    await until_reminders(h, ins.id, 1)
    await ins.handle.execute_update(
        typed(InstallationWorkflow.reschedule), InstallationReschedule(await now(h))
    )
    await book_visit(ins, await now(h) + timedelta(days=1))
    await report_visit(ins, VisitOutcome.INSTALLED, INSTALL_CHECKLIST)
    failing = [ChecklistItem("calibration", False, "drifts")]
    assert (await commission_installation(ins, failing)).status == InstallationStatus.INSTALLED
    done = await commission_installation(ins, ALL_PASSED, training_given=True)
    assert done.status == InstallationStatus.COMPLETED
    await ins.handle.result()
    return await ins.handle.fetch_history()


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
        sub = models.WebhookSubscription(
            org_id=org.id, url=url, events=["*"], secret=SECRET_BOX.encrypt("s3cret")
        )
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
        DeliveryQueueWorkflow.run,
        DeliveryQueueStart("webhook", timedelta(hours=1), timedelta(seconds=10)),
        id=f"webhooks:{sub.id}:{case_id}",
        task_queue=h.settings.task_queue,
        start_signal=ENQUEUE_SIGNAL,
        start_signal_args=[QueuedDelivery(deliveries[0].id, 1, now)],
    )
    await handle.signal(DeliveryQueueWorkflow.enqueue, QueuedDelivery(deliveries[1].id, 2, now))
    await handle.result()
    assert [b.count(b"evt_") for b in flaky.accepted[-2:]] == [1, 1]
    assert f"evt_{case_id}_1".encode() in flaky.accepted[-2]
    assert f"evt_{case_id}_2".encode() in flaky.accepted[-1]
    return await handle.fetch_history()


RECORDERS: dict[str, Callable[[Harness], Awaitable[WorkflowHistory]]] = {
    "rma_refund_grade_b": refunded_rma,
    "replacement_advance_core_returned": _record_advance_replacement,
    "replacement_advance_authenticated_hold": _record_authenticated_hold,
    "service_plan_expired": _record_service_plan,
    "service_plan_cancelled_yen": _record_yen_plan_cancelled,
    "repair_paid_quote_approved": _record_paid_repair,
    # The same path as recorded by the kit before the batched steps (its one-step patches,
    # a timer per SLA wait) and since (one `batched-steps` patch, one SLA timer).
    "repair_one_step_writes": _record_paid_repair,
    "repair_batched_steps": _record_paid_repair,
    "relocation_completed": _record_relocation,
    "installation_completed": _record_installation,
}


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
    await replayer().replay_workflow(history)
    _replays_and_is_kept(name, history)


async def test_a_fresh_delivery_queue_history_replays(
    harness: Harness, receiver: tuple[FlakyReceiver, str]
) -> None:
    history = await _record_delivery_queue(harness, receiver)
    await replayer().replay_workflow(history)
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
    await replayer().replay_workflow(history)
