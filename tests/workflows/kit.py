"""What the workflow tests share: the harness, the people and places of a case, starting each
kind of case as the API does, the steps several tests (and the replay recordings) take, the
read model read back, carrier scans, waiting on real time, and workers with test doubles.

Updates, queries and signals are called by method reference (`RmaWorkflow.inspect`), so a
renamed handler fails type checking and every test that calls it, never silently."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import typing
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar, overload

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistory,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.workflow import UpdateMethodMultiParam

from activities.store import StoreActivities
from db import models
from db.outbox import OutboxConfig
from domain.common import (
    CARRIER_EVENT_SIGNAL,
    Actor,
    Address,
    CarrierEvent,
    CarrierStatus,
    Customer,
    Policy,
    start_memo,
)
from domain.contracts.store import CaseProjection
from domain.ids import (
    installation_workflow_id,
    new_tracking_token,
    relocation_workflow_id,
    repair_workflow_id,
    replacement_workflow_id,
    rma_workflow_id,
    service_plan_workflow_id,
)
from domain.installation import (
    BookVisit,
    InstallationCommissioning,
    InstallationResult,
    InstallationStart,
    InstallationView,
    VisitOutcome,
    VisitReport,
)
from domain.relocation import (
    BookAppointment,
    ChecklistItem,
    Commissioning,
    RelocationResult,
    RelocationStart,
    RelocationStatus,
    RelocationView,
    Stage,
    StageOutcome,
    StageReport,
)
from domain.repair import (
    Diagnosis,
    Part,
    QaReport,
    RepairCoverage,
    RepairResult,
    RepairStart,
    RepairStatus,
    RepairUnit,
    RepairView,
    StatusChange,
)
from domain.replacement import (
    ReplacementMode,
    ReplacementResult,
    ReplacementStart,
    ReplacementView,
)
from domain.rma import (
    Grade,
    InspectionRequest,
    ReceiveRequest,
    Resolution,
    ReturnReason,
    RmaItem,
    RmaResult,
    RmaStart,
    RmaView,
)
from domain.service_plan import BillingPeriod, PlanTerms, PlanView, ServicePlanStart
from settings import Settings
from tests.support import eventually
from workflows.installation import InstallationWorkflow
from workflows.relocation import RelocationWorkflow
from workflows.repair import RepairWorkflow
from workflows.replacement import ReplacementWorkflow
from workflows.rma import RmaWorkflow
from workflows.service_plan import ServicePlanWorkflow

W = TypeVar("W")
R = TypeVar("R")
P = ParamSpec("P")

RmaHandle = WorkflowHandle[RmaWorkflow, RmaResult]
RepairHandle = WorkflowHandle[RepairWorkflow, RepairResult]
ReplacementHandle = WorkflowHandle[ReplacementWorkflow, ReplacementResult]
RelocationHandle = WorkflowHandle[RelocationWorkflow, RelocationResult]
InstallationHandle = WorkflowHandle[InstallationWorkflow, InstallationResult]
PlanHandle = WorkflowHandle[ServicePlanWorkflow, PlanView]


@overload
def typed(
    method: UpdateMethodMultiParam[P, Coroutine[Any, Any, R]],
) -> UpdateMethodMultiParam[P, R]: ...
@overload
def typed(method: UpdateMethodMultiParam[P, R]) -> UpdateMethodMultiParam[P, R]: ...
def typed(method: Any) -> Any:
    """An update handler as the client calls it: `handle.execute_update(typed(Wf.update), x)`
    answers what the handler returns. The SDK types an async handler declared with
    `@workflow.update(name=...)` as answering its coroutine; the name and the argument's type
    are still checked."""
    return method


@dataclass
class Harness:
    """The module's time-skipping server, its worker (real activities) and read model."""

    env: WorkflowEnvironment
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    org_id: str
    worker: Worker


# ---------------------------------------------------------------- people and places

RETAILER = Actor("retailer", "org")
CUSTOMER_ADDRESS = Address(
    line1="12 Analytical Row", city="Arlington", postal_code="22202", country="US"
)
CUSTOMER = Customer(name="Grace Hopper", email="grace@example.com", address=CUSTOMER_ADDRESS)
PUBLIC_BASE_URL = "http://aftersales.test"
ORG_NAME = "Test Retailer"


def case_id(prefix: str) -> str:
    return f"{prefix}-TEST-{uuid.uuid4().hex[:10].upper()}"


def serial() -> str:
    return f"SN-{uuid.uuid4().hex[:8]}"


def new_category() -> str:
    """A category of its own per test, so that no test routes to another's centers."""
    return f"cat-{uuid.uuid4().hex[:8]}"


def new_sku(prefix: str = "RPL-SKU") -> str:
    """A SKU of its own per test, so that no test takes another's stock."""
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


async def now(h: Harness) -> datetime:
    """The test server's (virtual) clock, which the workflows read too; it runs ahead of the
    wall clock once timers are skipped."""
    return await h.env.get_current_time()


async def sleep_until(h: Harness, moment: datetime) -> None:
    await h.env.sleep(moment - await now(h))


async def outcome(h: Harness, handle: WorkflowHandle[Any, R]) -> R:
    """The workflow's result, the server skipping time (timers, retry backoffs) while the test
    waits for it. A handle from `start_workflow` does so by itself; one from update-with-start,
    as the API opens cases, does not and would wait them out in real time."""
    service = h.env.client.test_service
    await service.unlock_time_skipping(UnlockTimeSkippingRequest())
    try:
        return await handle.result()
    finally:
        await service.lock_time_skipping(LockTimeSkippingRequest())


def with_start(
    h: Harness,
    run: Callable[[W, Any], Awaitable[R]],
    start: Any,
    workflow_id: str,
    task_queue: str | None = None,
    task_timeout: timedelta | None = None,
) -> WithStartWorkflowOperation[W, R]:
    """The start half of an update-with-start, as the API sends it."""
    return WithStartWorkflowOperation(
        run,
        start,
        id=workflow_id,
        task_queue=task_queue or h.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        memo=start_memo(),
        task_timeout=task_timeout,
    )


# ------------------------------------------------------------------------------ RMA


def rma_start(
    h: Harness,
    *,
    now: datetime,
    resolution: Resolution = Resolution.REFUND,
    purchased_days_ago: int = 5,
    price: str = "100.00",
    quantity: int = 1,
    warranty_months: int = 12,
    policy: Policy | None = None,
    open_serials: list[str] | None = None,
    plan_serials: list[str] | None = None,
    serial_number: str | None = None,
    category: str = "audio",
    repair_tracking_token: str = "",
) -> RmaStart:
    return RmaStart(
        rma_id=case_id("RMA"),
        org_id=h.org_id,
        org_name=ORG_NAME,
        tracking_token=new_tracking_token(),
        order_ref="SO-1",
        purchased_at=now - timedelta(days=purchased_days_ago),
        customer=CUSTOMER,
        items=[
            RmaItem(
                sku="SKU-1",
                serial=serial_number or serial(),
                quantity=quantity,
                reason=ReturnReason.DEFECTIVE,
                unit_price=Decimal(price),
                product_name="Speaker",
                category=category,
                warranty_months=warranty_months,
            )
        ],
        resolution=resolution,
        policy=policy or Policy(),
        public_base_url=PUBLIC_BASE_URL,
        serials_with_open_cases=open_serials or [],
        serials_with_active_plans=plan_serials or [],
        repair_tracking_token=repair_tracking_token,
    )


async def open_rma(
    h: Harness, s: RmaStart, memo: dict[str, Any] | None = None
) -> tuple[RmaHandle, RmaView]:
    """Start the RMA and take its authorization decision. Without a `memo` it is started as
    before `domain.common.start_memo`, asking for every patch."""
    handle = await h.env.client.start_workflow(
        RmaWorkflow.run,
        s,
        id=rma_workflow_id(s.rma_id),
        task_queue=h.settings.task_queue,
        memo=memo,
    )
    return handle, await handle.execute_update(typed(RmaWorkflow.authorize))


async def inbound_tracking(h: Harness, case: str) -> str:
    """The tracking number of the case's one inbound parcel, once its label is on the
    timeline."""
    await until_event(h, case, "label_created")
    (parcel,) = await shipments(h, case, "inbound")
    return parcel.tracking_number


async def refunded_rma(h: Harness, memo: dict[str, Any] | None = None) -> WorkflowHistory:
    """An RMA's history from its authorization to its refund: record, label, scan, receipt,
    inspection (grade B) and payment. `memo` as for `open_rma`."""
    s = rma_start(h, now=await now(h))
    handle, _ = await open_rma(h, s, memo)
    tracking = await inbound_tracking(h, s.rma_id)
    await handle.signal(RmaWorkflow.carrier_event, scan(tracking, CarrierStatus.PICKED_UP))
    await handle.execute_update(typed(RmaWorkflow.receive), ReceiveRequest(actor=RETAILER))
    await handle.execute_update(
        typed(RmaWorkflow.inspect), InspectionRequest(RETAILER, Grade.B, True)
    )
    await handle.result()
    return await handle.fetch_history()


# --------------------------------------------------------------------------- repair

TWO_SCREWS = Part("P-100", "Hinge screw", 2, Decimal("12.50"))


@dataclass
class Center:
    org_id: str
    line1: str

    @property
    def actor(self) -> Actor:
        return Actor("repair_center", self.org_id)


async def add_center(
    h: Harness, category: str, *, capacity: int = 5, org_id: str | None = None
) -> Center:
    line1 = f"{uuid.uuid4().int % 900 + 100} Bench Road"
    async with h.sessions.begin() as session:
        org = models.Organisation(name=f"Fixit {line1}", kind="repair_center")
        if org_id is not None:
            org.id = org_id
        session.add(org)
        await session.flush()
        session.add(
            models.RepairCenter(
                org_id=org.id,
                categories=[category],
                regions=["US"],
                daily_capacity=capacity,
                labor_rate=Decimal("60.00"),
                currency="USD",
                address={
                    "line1": line1,
                    "city": "Toolton",
                    "postal_code": "55555",
                    "country": "US",
                },
            )
        )
    return Center(org.id, line1)


def repair_start(
    h: Harness,
    category: str,
    *,
    coverage: RepairCoverage = RepairCoverage.WARRANTY,
    direct: bool = True,
    policy: Policy | None = None,
) -> RepairStart:
    """A repair the retailer opens itself: `direct` ships the unit from the customer to the
    center; otherwise the unit is at the center already and the job starts `received`."""
    return RepairStart(
        repair_id=case_id("REP"),
        org_id=h.org_id,
        org_name=ORG_NAME,
        tracking_token=new_tracking_token(),
        unit=RepairUnit(
            sku="SKU-R1",
            serial=serial(),
            product_name="Laptop",
            category=category,
            unit_price=Decimal("899.00"),
        ),
        fault="Hinge cracked",
        customer=CUSTOMER,
        coverage=coverage,
        policy=policy or Policy(),
        public_base_url=PUBLIC_BASE_URL,
        unit_origin=CUSTOMER_ADDRESS if direct else None,
    )


async def open_repair(
    h: Harness,
    s: RepairStart,
    task_queue: str | None = None,
    task_timeout: timedelta | None = None,
) -> tuple[RepairHandle, RepairView]:
    """Start the job and get the create call's answer in one round trip, as the API does
    (`task_timeout`: a workflow task's, whose 0.8 is how long a local activity holds the
    task before the worker lets the next message in)."""
    workflow_id = repair_workflow_id(s.repair_id)
    operation = with_start(h, RepairWorkflow.run, s, workflow_id, task_queue, task_timeout)
    view = await h.env.client.execute_update_with_start_workflow(
        typed(RepairWorkflow.accept), start_workflow_operation=operation
    )
    return await operation.workflow_handle(), view


async def report_status(handle: RepairHandle, status: RepairStatus, center: Center) -> RepairView:
    return await handle.execute_update(
        typed(RepairWorkflow.report_status), StatusChange(center.actor, status)
    )


def diagnosis(center: Center, parts: list[Part] | None = None, **changes: Any) -> Diagnosis:
    fields: dict[str, Any] = {
        "fault_code": "HNG-01",
        "findings": "Left hinge cracked",
        "labor_minutes": 90,
        "repairable": True,
    }
    fields.update(changes)
    return Diagnosis(actor=center.actor, parts=parts or [], **fields)


async def bench_to_ready(handle: RepairHandle, center: Center) -> RepairView:
    """From `repairing`: to quality check and a pass."""
    view = await report_status(handle, RepairStatus.QUALITY_CHECK, center)
    assert view.status == "quality_check"
    return await handle.execute_update(
        typed(RepairWorkflow.report_qa), QaReport(center.actor, passed=True, notes="ok")
    )


async def deliver_back(h: Harness, handle: RepairHandle, repair_id: str) -> RepairResult:
    """The return parcel is picked up and delivered; the job ends."""
    (parcel,) = await shipments(h, repair_id, "outbound")
    await carrier_scan(h, handle, repair_id, parcel.tracking_number, CarrierStatus.PICKED_UP)
    assert (await case_row(h, repair_id)).status == "shipped"
    await handle.signal(
        RepairWorkflow.carrier_event, scan(parcel.tracking_number, CarrierStatus.DELIVERED)
    )
    return await handle.result()


# ---------------------------------------------------------------------- replacement

REPLACEMENT_PRICE = Decimal("249.00")


async def add_stock(h: Harness, sku: str, quantity: int) -> None:
    async with h.sessions.begin() as session:
        session.add(models.InventoryItem(org_id=h.org_id, sku=sku, quantity=quantity, reserved=0))


def replacement_start(
    h: Harness,
    sku: str,
    *,
    mode: ReplacementMode = ReplacementMode.STANDARD,
    payment_method: str = "pm_ok",
    policy: Policy | None = None,
) -> ReplacementStart:
    return ReplacementStart(
        replacement_id=case_id("RPL"),
        org_id=h.org_id,
        org_name=ORG_NAME,
        tracking_token=new_tracking_token(),
        mode=mode,
        sku="SKU-DEFECTIVE",
        serial=serial(),
        replacement_sku=sku,
        replacement_name="Speaker (replacement)",
        unit_price=REPLACEMENT_PRICE,
        customer=CUSTOMER,
        payment_method=payment_method,
        policy=policy or Policy(),
        public_base_url=PUBLIC_BASE_URL,
    )


def replacement_operation(
    h: Harness, s: ReplacementStart, task_queue: str | None = None
) -> WithStartWorkflowOperation[ReplacementWorkflow, ReplacementResult]:
    return with_start(
        h, ReplacementWorkflow.run, s, replacement_workflow_id(s.replacement_id), task_queue
    )


async def open_replacement(
    h: Harness, s: ReplacementStart, task_queue: str | None = None
) -> tuple[ReplacementHandle, ReplacementView]:
    """Start the case and get the create call's answer in one round trip, as the API does."""
    operation = replacement_operation(h, s, task_queue)
    view = await h.env.client.execute_update_with_start_workflow(
        typed(ReplacementWorkflow.accept), start_workflow_operation=operation
    )
    return await operation.workflow_handle(), view


async def deliver(h: Harness, handle: ReplacementHandle, s: ReplacementStart) -> None:
    """The carrier scans the replacement unit delivered to the customer."""
    (outbound,) = await shipments(h, s.replacement_id, "outbound")
    await handle.signal(
        ReplacementWorkflow.carrier_event, scan(outbound.tracking_number, CarrierStatus.DELIVERED)
    )


# ----------------------------------------------------------------------- relocation

FROM_SITE = Address(
    name="Old Lab",
    line1="1 Babbage Street",
    line2="Basement",
    city="Cambridge",
    region="MA",
    postal_code="02139",
    country="US",
)
TO_SITE = Address(
    name="New Lab",
    line1="99 Lovelace Avenue",
    line2="Floor 3",
    city="Boston",
    region="MA",
    postal_code="02110",
    country="US",
)
UNINSTALL_CHECKLIST = [
    ChecklistItem("power isolated", True),
    ChecklistItem("anchors removed", True, "4 bolts"),
    ChecklistItem("crated", True),
]
REINSTALL_CHECKLIST = [ChecklistItem("anchored", True), ChecklistItem("power connected", True)]
ALL_PASSED = [
    ChecklistItem("self test", True),
    ChecklistItem("calibration", True, "within 0.1%"),
]


@dataclass
class Relocation:
    """One relocation under test: what started it, its handle and the provider doing the
    work."""

    start: RelocationStart
    handle: RelocationHandle
    provider: Actor

    @property
    def id(self) -> str:
        return self.start.relocation_id


async def add_provider(h: Harness) -> str:
    async with h.sessions.begin() as session:
        org = models.Organisation(name="Test Installers", kind="repair_center")
        session.add(org)
    return org.id


async def add_asset(h: Harness, sku: str, serial_number: str) -> str:
    async with h.sessions.begin() as session:
        asset = models.Asset(
            org_id=h.org_id, sku=sku, serial=serial_number, site=FROM_SITE.to_json()
        )
        session.add(asset)
    return asset.id


def relocation_start(
    h: Harness, *, provider_org_id: str, asset_id: str, sku: str, serial_number: str
) -> RelocationStart:
    return RelocationStart(
        relocation_id=case_id("REL"),
        org_id=h.org_id,
        org_name=ORG_NAME,
        tracking_token=new_tracking_token(),
        provider_org_id=provider_org_id,
        provider_name="Test Installers",
        asset_id=asset_id,
        sku=sku,
        serial=serial_number,
        product_name="Bench Centrifuge",
        from_site=FROM_SITE,
        to_site=TO_SITE,
        customer=CUSTOMER,
        policy=Policy(max_reschedules=2),
        public_base_url=PUBLIC_BASE_URL,
    )


def relocation_operation(
    h: Harness, s: RelocationStart, task_queue: str | None = None
) -> WithStartWorkflowOperation[RelocationWorkflow, RelocationResult]:
    return with_start(
        h, RelocationWorkflow.run, s, relocation_workflow_id(s.relocation_id), task_queue
    )


async def open_relocation(
    h: Harness, task_queue: str | None = None
) -> tuple[Relocation, RelocationView]:
    """A provider, an asset of its own and a relocation of it, opened as the API does."""
    sku = new_sku("REL-SKU")
    serial_number = serial()
    provider = await add_provider(h)
    asset = await add_asset(h, sku, serial_number)
    s = relocation_start(
        h, provider_org_id=provider, asset_id=asset, sku=sku, serial_number=serial_number
    )
    operation = relocation_operation(h, s, task_queue)
    view = await h.env.client.execute_update_with_start_workflow(
        typed(RelocationWorkflow.accept), start_workflow_operation=operation
    )
    return Relocation(s, await operation.workflow_handle(), Actor("repair_center", provider)), view


async def book(rel: Relocation, stage: Stage, starts_at: datetime) -> RelocationView:
    return await rel.handle.execute_update(
        typed(RelocationWorkflow.book_appointment),
        BookAppointment(rel.provider, stage, starts_at, technician="Tess Technician"),
    )


async def report_stage(
    rel: Relocation, outcome: StageOutcome, checklist: list[ChecklistItem] | None = None
) -> RelocationView:
    return await rel.handle.execute_update(
        typed(RelocationWorkflow.report_stage), StageReport(rel.provider, outcome, checklist or [])
    )


async def commission(rel: Relocation, checklist: list[ChecklistItem]) -> RelocationView:
    return await rel.handle.execute_update(
        typed(RelocationWorkflow.commission), Commissioning(rel.provider, checklist)
    )


async def transport(h: Harness, rel: Relocation) -> models.Shipment:
    (parcel,) = await shipments(h, rel.id)
    return parcel


async def reminders(h: Harness, relocation_id: str) -> list[models.TimelineEvent]:
    return [e for e in await timeline(h, relocation_id) if e.event == "appointment_reminder"]


async def until_reminders(h: Harness, relocation_id: str, count: int) -> None:
    async def reminded() -> bool:
        return len(await reminders(h, relocation_id)) >= count

    await eventually(reminded, what=f"{count} reminder(s) on {relocation_id}")


async def through_uninstall(h: Harness, rel: Relocation) -> None:
    """From `scheduling_uninstall`: an uninstall booked for tomorrow and done."""
    starts_at = await now(h) + timedelta(days=1)
    view = await book(rel, Stage.UNINSTALL, starts_at)
    assert view.status == RelocationStatus.UNINSTALL_SCHEDULED
    view = await report_stage(rel, StageOutcome.UNINSTALLED, UNINSTALL_CHECKLIST)
    assert view.status == RelocationStatus.UNINSTALLED


async def through_transport(h: Harness, rel: Relocation) -> None:
    """From `uninstalled`: the carrier picks the equipment up and delivers it."""
    tracking = (await transport(h, rel)).tracking_number
    await rel.handle.signal(
        RelocationWorkflow.carrier_event, scan(tracking, CarrierStatus.PICKED_UP)
    )
    await until_status(h, rel.id, RelocationStatus.IN_TRANSIT)
    await rel.handle.signal(
        RelocationWorkflow.carrier_event, scan(tracking, CarrierStatus.DELIVERED)
    )
    await until_status(h, rel.id, RelocationStatus.DELIVERED)


async def through_reinstall(h: Harness, rel: Relocation) -> None:
    """From `delivered`: a reinstall booked for tomorrow and done."""
    starts_at = await now(h) + timedelta(days=1)
    view = await book(rel, Stage.REINSTALL, starts_at)
    assert view.status == RelocationStatus.REINSTALL_SCHEDULED
    view = await report_stage(rel, StageOutcome.REINSTALLED, REINSTALL_CHECKLIST)
    assert view.status == RelocationStatus.REINSTALLED


# --------------------------------------------------------------------- installation

INSTALL_SITE = Address(
    name="Clinic",
    line1="7 Hopper Lane",
    line2="Room 12",
    city="Arlington",
    region="VA",
    postal_code="22203",
    country="US",
)
INSTALL_CHECKLIST = [
    ChecklistItem("mounted level", True),
    ChecklistItem("power connected", True, "dedicated circuit"),
]


@dataclass
class Installation:
    """One installation under test: what started it, its handle and its provider."""

    start: InstallationStart
    handle: InstallationHandle
    provider: Actor

    @property
    def id(self) -> str:
        return self.start.installation_id


def installation_start(
    h: Harness,
    *,
    provider_org_id: str,
    training: bool = False,
    max_reschedules: int = 2,
    serial_number: str | None = None,
) -> InstallationStart:
    return InstallationStart(
        installation_id=case_id("INS"),
        org_id=h.org_id,
        org_name=ORG_NAME,
        tracking_token=new_tracking_token(),
        provider_org_id=provider_org_id,
        provider_name="Test Installers",
        sku=new_sku("INS-SKU"),
        serial=serial_number or serial(),
        product_name="Dental Chair",
        site=INSTALL_SITE,
        customer=CUSTOMER,
        training=training,
        policy=Policy(max_reschedules=max_reschedules),
        public_base_url=PUBLIC_BASE_URL,
    )


async def open_installation(
    h: Harness,
    *,
    training: bool = False,
    task_queue: str | None = None,
    serial_number: str | None = None,
) -> tuple[Installation, InstallationView]:
    """A provider and an installation for it, opened as the API does (update-with-start)."""
    provider = await add_provider(h)
    s = installation_start(
        h, provider_org_id=provider, training=training, serial_number=serial_number
    )
    operation = with_start(
        h,
        InstallationWorkflow.run,
        s,
        installation_workflow_id(s.installation_id),
        task_queue,
    )
    view = await h.env.client.execute_update_with_start_workflow(
        typed(InstallationWorkflow.accept), start_workflow_operation=operation
    )
    installation = Installation(
        s, await operation.workflow_handle(), Actor("repair_center", provider)
    )
    return installation, view


async def book_visit(ins: Installation, starts_at: datetime) -> InstallationView:
    return await ins.handle.execute_update(
        typed(InstallationWorkflow.book_appointment),
        BookVisit(ins.provider, starts_at, technician="Tess Technician"),
    )


async def report_visit(
    ins: Installation, outcome: VisitOutcome, checklist: list[ChecklistItem] | None = None
) -> InstallationView:
    return await ins.handle.execute_update(
        typed(InstallationWorkflow.report_visit),
        VisitReport(ins.provider, outcome, checklist or []),
    )


async def commission_installation(
    ins: Installation, checklist: list[ChecklistItem], training_given: bool | None = None
) -> InstallationView:
    return await ins.handle.execute_update(
        typed(InstallationWorkflow.commission),
        InstallationCommissioning(ins.provider, checklist, training_given),
    )


# --------------------------------------------------------------------- service plan

MONTHLY_PRICE = Decimal("9.99")


def new_terms(**changes: Any) -> PlanTerms:
    """A monthly 3-month plan of its own code (the catalog is per code), no renewal."""
    terms = PlanTerms(
        code=f"CARE-{uuid.uuid4().hex[:8].upper()}",
        name="Care Monthly",
        term_months=3,
        billing_period=BillingPeriod.MONTHLY,
        price=MONTHLY_PRICE,
        claim_limit=2,
        incidents=frozenset({"breakdown", "accidental_damage"}),
        auto_renew=False,
    )
    return dataclasses.replace(terms, **changes)


def plan_start(
    h: Harness, terms: PlanTerms, *, payment_method: str = "pm_ok", policy: Policy | None = None
) -> ServicePlanStart:
    """A plan on a unit of its own SKU (no stock: a replacement claim is backordered) and
    category (no repair center: a repair claim ends unroutable by itself)."""
    return ServicePlanStart(
        plan_id=case_id("PLN"),
        org_id=h.org_id,
        org_name=ORG_NAME,
        tracking_token=new_tracking_token(),
        sku=new_sku("PLN-SKU"),
        serial=serial(),
        product_name="Speaker",
        category=new_category(),
        unit_price=Decimal("199.00"),
        policy=policy or Policy(),
        public_base_url=PUBLIC_BASE_URL,
        terms=terms,
        payment_method=payment_method,
        customer=CUSTOMER,
    )


def catalog_entry(h: Harness, terms: PlanTerms, **changes: Any) -> models.PlanCatalogEntry:
    """`terms` in the retailer's catalog under its code (a renewal takes the catalog's
    terms), with `changes` to the stored terms."""
    stored: dict[str, Any] = {
        "name": terms.name,
        "term_months": terms.term_months,
        "billing_period": terms.billing_period.value,
        "price": str(terms.price),
        "claim_limit": terms.claim_limit,
        "deductibles": {kind.value: str(amount) for kind, amount in terms.deductibles.items()},
        "waiting_period": "PT0S",
        "incidents": sorted(terms.incidents),
        "cancel_full_refund_within": "P30D",
        "auto_renew": terms.auto_renew,
    }
    stored.update(changes)
    return models.PlanCatalogEntry(
        org_id=h.org_id, code=terms.code, name=stored["name"], terms=stored
    )


async def open_plan(h: Harness, s: ServicePlanStart) -> tuple[PlanHandle, PlanView]:
    """Enrol and get the create call's answer in one round trip, as the API does."""
    operation = with_start(h, ServicePlanWorkflow.run, s, service_plan_workflow_id(s.plan_id))
    view = await h.env.client.execute_update_with_start_workflow(
        typed(ServicePlanWorkflow.accept), start_workflow_operation=operation
    )
    return await operation.workflow_handle(), view


# --------------------------------------------------------------- the read model, read


async def find_case(h: Harness, case: str) -> models.Case | None:
    async with h.sessions() as session:
        return await session.get(models.Case, case)


async def case_row(h: Harness, case: str) -> models.Case:
    row = await find_case(h, case)
    assert row is not None, case
    return row


async def case_status(h: Harness, case: str) -> str | None:
    row = await find_case(h, case)
    return None if row is None else row.status


async def timeline(h: Harness, case: str) -> list[models.TimelineEvent]:
    async with h.sessions() as session:
        rows = await session.scalars(
            select(models.TimelineEvent)
            .where(models.TimelineEvent.case_id == case)
            .order_by(models.TimelineEvent.seq)
        )
        return list(rows.all())


async def events(h: Harness, case: str) -> list[str]:
    """The case's timeline events by name, in order."""
    return [entry.event for entry in await timeline(h, case)]


async def shipments(h: Harness, case: str, direction: str | None = None) -> list[models.Shipment]:
    query = select(models.Shipment).where(models.Shipment.case_id == case)
    if direction is not None:
        query = query.where(models.Shipment.direction == direction)
    async with h.sessions() as session:
        rows = await session.scalars(query.order_by(models.Shipment.created_at))
        return list(rows.all())


async def documents(h: Harness, case: str, kind: str | None = None) -> list[models.Document]:
    query = select(models.Document).where(models.Document.case_id == case)
    if kind is not None:
        query = query.where(models.Document.kind == kind)
    async with h.sessions() as session:
        rows = await session.scalars(query.order_by(models.Document.created_at))
        return list(rows.all())


async def document_kinds(h: Harness, case: str) -> list[str]:
    return [document.kind for document in await documents(h, case)]


async def payments(h: Harness, case: str, kind: str | None = None) -> list[models.Payment]:
    query = select(models.Payment).where(models.Payment.case_id == case)
    if kind is not None:
        query = query.where(models.Payment.kind == kind)
    async with h.sessions() as session:
        rows = await session.scalars(query.order_by(models.Payment.created_at))
        return list(rows.all())


# ------------------------------------------------------------ waiting on real time


async def until_status(h: Harness, case: str, status: str) -> None:
    """Until the read model shows `status` (the worker runs on real time between skips)."""

    async def reached() -> bool:
        return await case_status(h, case) == status

    await eventually(reached, what=f"{case} to be {status}")


async def until_event(h: Harness, case: str, event: str) -> None:
    async def seen() -> bool:
        return event in await events(h, case)

    await eventually(seen, what=f"{event} on {case}")


# ---------------------------------------------------------------------- carrier scans


def scan(tracking: str, status: CarrierStatus, event_id: str | None = None) -> CarrierEvent:
    return CarrierEvent(
        event_id=event_id or uuid.uuid4().hex,
        tracking_number=tracking,
        status=status,
        occurred_at=datetime.now(UTC),  # the carrier's own clock: informative only
        location="Depot",
    )


async def carrier_scan(
    h: Harness,
    handle: WorkflowHandle[Any, Any],
    case: str,
    tracking: str,
    status: CarrierStatus,
) -> None:
    """Signal a scan as the carrier webhook does, and wait until the workflow has put it on
    the timeline."""
    before = (await events(h, case)).count(f"carrier_{status.value}")
    await handle.signal(CARRIER_EVENT_SIGNAL, scan(tracking, status))

    async def applied() -> bool:
        return (await events(h, case)).count(f"carrier_{status.value}") > before

    await eventually(applied, what=f"carrier_{status.value} on {case}")


# ---------------------------------------------------------------------------- refusals


async def refused(call: Awaitable[Any]) -> ApplicationError:
    """The application error a workflow update was refused with."""
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await call
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def expect_invalid(
    call: Awaitable[Any], status: str, allowed: Sequence[str] | None = None
) -> ApplicationError:
    """The update is refused as an invalid transition from `status` (which, when given,
    allows exactly `allowed`)."""
    cause = await refused(call)
    assert cause.type == "invalid_transition"
    assert cause.details[0]["current_status"] == status
    if allowed is not None:
        assert cause.details[0]["allowed"] == list(allowed)
    return cause


# ------------------------------------------------------------- workers and test doubles


@contextlib.asynccontextmanager
async def side_worker(
    h: Harness, replacements: dict[str, Callable[..., Any]]
) -> AsyncIterator[str]:
    """The harness's worker again, on a task queue of its own, with the activities named in
    `replacements` swapped for those test doubles. Yields the task queue."""
    config = h.worker.config()
    kept = [
        fn for fn in config.get("activities", []) if getattr(fn, "__name__", "") not in replacements
    ]
    config["activities"] = [*kept, *replacements.values()]
    config["task_queue"] = f"side-{uuid.uuid4().hex[:6]}"
    async with Worker(**config):
        yield config["task_queue"]


def held_activity(
    h: Harness, name: str, gate: Gate, when: Callable[[Any], bool] = lambda _: True
) -> Callable[..., Any]:
    """The harness's activity `name`, held at `gate` before it runs when its request is one
    `when` picks: for `side_worker`."""
    real = next(
        fn for fn in h.worker.config().get("activities", []) if getattr(fn, "__name__", "") == name
    )

    async def held(request: Any) -> Any:
        if when(request):
            await gate.pass_through()
        return await real(request)

    # Typed as the real one, so that its request arrives decoded as the real one's does.
    hints = typing.get_type_hints(real)
    (parameter,) = inspect.signature(real).parameters
    held.__annotations__ = {"request": hints[parameter], "return": hints["return"]}
    return activity.defn(name=name)(held)


class Gate:
    """Holds an activity at its start until the test opens it."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()
        self.calls = 0

    async def pass_through(self) -> None:
        self.calls += 1
        self.reached.set()
        await self.opened.wait()


class GatedStore(StoreActivities):
    """The real read-model writes, except that a projection `held` waits at the gate."""

    def __init__(self, h: Harness, gate: Gate, held: Callable[[CaseProjection], bool]) -> None:
        super().__init__(h.sessions, OutboxConfig(h.settings.public_base_url, send_email=False))
        self.gate = gate
        self.held = held

    @activity.defn(name="project")
    async def project(self, projection: CaseProjection) -> None:
        if self.held(projection):
            await self.gate.pass_through()
        await super().project(projection)


_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED: True,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED: True,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: False,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED: False,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT: False,
}


async def is_idle(h: Harness, workflow_id: str) -> bool:
    """No workflow task and no activity of the workflow is under way (or it has closed).
    The time-skipping server's describe never reports a workflow task in flight, and a
    task's local activities write the read model before the task completes, so the task
    is read off the history: in flight when its last task event is a schedule or a start."""
    handle = h.env.client.get_workflow_handle(workflow_id)
    description = await handle.describe()
    if description.status != WorkflowExecutionStatus.RUNNING:
        return True
    if description.raw_description.pending_activities:
        return False
    in_flight = False
    async for event in handle.fetch_history_events():
        in_flight = _TASK_EVENTS.get(event.event_type, in_flight)
    return not in_flight


async def is_closed(h: Harness, workflow_id: str) -> bool:
    description = await h.env.client.get_workflow_handle(workflow_id).describe()
    return description.status != WorkflowExecutionStatus.RUNNING


async def terminate_when_idle(h: Harness, workflow_id: str, *, within: float = 30) -> None:
    """End a workflow the test leaves running, once no task of it is under way:
    terminating one in the middle of a task stalls the shared time-skipping server's
    clock for every later test of the module (each sleep then times out). One still busy
    after `within` seconds (held in an activity, say) is ended all the same, so that its
    timers cannot fire in later tests."""
    with contextlib.suppress(AssertionError):
        await eventually(
            lambda: is_idle(h, workflow_id), what=f"{workflow_id} to be idle", within=within
        )
    if not await is_closed(h, workflow_id):
        await h.env.client.get_workflow_handle(workflow_id).terminate(reason="test cleanup")


async def settle_and_terminate(
    h: Harness, workflow_id: str, case: str, settled_status: str
) -> None:
    """End a workflow the test leaves running once its case row shows the settled status
    and it is idle (or it has closed by itself)."""

    async def settled() -> bool:
        closed = await is_closed(h, workflow_id)
        return closed or (await case_status(h, case) == settled_status)

    await eventually(settled, what=f"{workflow_id} to settle as {settled_status}")
    await terminate_when_idle(h, workflow_id)
