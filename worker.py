"""Builds the activity classes with their clients, registers every workflow and activity,
and runs the worker."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import structlog
import uvloop
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import workflow
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.converter import SerializationContext
from temporalio.worker import (
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.campaigns import CampaignActivities
from activities.carrier import CarrierActivities
from activities.documents import DocumentActivities
from activities.handover import Handover
from activities.inventory import InventoryActivities
from activities.mail import SmtpMailer
from activities.notify import Dispatcher, NotifyActivities, webhook_client
from activities.payments import PaymentActivities
from activities.providers import Providers
from activities.routing import RoutingActivities
from activities.store import StoreActivities
from db.document_store import document_store_from
from db.outbox import OutboxConfig
from db.secret_box import SecretBox
from db.session import make_engine, make_sessionmaker
from db.writer import ReadModelWriter
from domain.campaign import (
    WARRANTY_NOTICE_HOUR_UTC,
    WARRANTY_NOTICES_SCHEDULE,
    WARRANTY_NOTICES_WORKFLOW,
    WarrantyRun,
)
from observability import tracing
from observability.activity_log import ActivityLogContext
from observability.activity_metrics import ActivityMetrics
from observability.backlog_metrics import BacklogGauges
from observability.temporal_metrics import install_sdk_metrics
from observability.worker_metrics import serving_metrics
from settings import Settings
from temporal_client import connect
from workflows.campaign import CampaignWorkflow
from workflows.delivery_queue import DeliveryQueueWorkflow
from workflows.installation import InstallationWorkflow
from workflows.relocation import RelocationWorkflow
from workflows.repair import RepairWorkflow
from workflows.replacement import ReplacementWorkflow
from workflows.rma import RmaWorkflow
from workflows.service_plan import ServicePlanWorkflow
from workflows.warranty_notices import WarrantyNoticesWorkflow

log = structlog.get_logger(__name__)

STICKY_TIMEOUT = timedelta(seconds=3)

# Imported once per process instead of once per workflow run (the sandbox's default already
# passes the standard library, temporalio and pydantic through): the pure domain and its
# contracts, the activity stubs, and the workflow modules, which keep no state of their own
# (constants only). Re-importing the workflow modules per run cost 12 ms of worker CPU per
# RMA (bench/start_rate.py: 96-101 ms against 82-84). A passed-through module's calls are not
# checked for non-determinism (datetime.now() would run): the replayer of the recorded
# histories and the test workers run every workflow in the default, checking sandbox.
# OpenTelemetry too, as the SDK's own OpenTelemetry plugin does: the tracing interceptor
# (passed through with temporalio) must see the same context module as the workflow code,
# not a copy re-imported in each run.
PASSED_THROUGH = ("domain", "activities.stubs", "workflows", "opentelemetry")

WORKFLOWS: Sequence[type] = (
    RmaWorkflow,
    RepairWorkflow,
    ReplacementWorkflow,
    RelocationWorkflow,
    ServicePlanWorkflow,
    DeliveryQueueWorkflow,
    InstallationWorkflow,
    CampaignWorkflow,
    WarrantyNoticesWorkflow,
)


def build_handover(
    client: Client, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> Handover:
    """What hands the outbox to the delivery queues, off the workflow task."""
    return Handover(
        Dispatcher(
            client,
            settings.task_queue,
            settings.delivery_retry_window,
            settings.delivery_first_retry,
        ),
        sessions,
    )


def build_providers(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> Providers:
    """Each organisation's carrier and gateway, from its integrations."""
    return Providers(
        sessions,
        SecretBox.from_setting(settings.required_secrets_key),
        {
            "easypost": settings.easypost_api_base,
            "stripe": settings.stripe_api_base,
            # Where the built-in gateway sends a customer to authenticate: our API's page.
            "builtin": settings.public_base_url,
        },
    )


def build_activities(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    client: Client | None = None,
    handover: Handover | None = None,
    writer: ReadModelWriter | None = None,
) -> list[Callable[..., Any]]:
    """Every activity, built with its dependencies. Without a Temporal `client` the outbox
    is written but nothing hands it to the delivery queues; without a `writer` the steps'
    transactions run on the event loop."""
    if handover is None and client is not None:
        handover = build_handover(client, sessions, settings)
    outbox = OutboxConfig(settings.public_base_url, send_email=settings.smtp_url is not None)
    store = StoreActivities(sessions, outbox, handover, writer)
    campaigns = CampaignActivities(sessions, outbox, handover)
    notify = NotifyActivities(
        sessions,
        webhook_client(),
        SmtpMailer(settings.smtp_url, settings.email_from) if settings.smtp_url else None,
        SecretBox.from_setting(settings.required_secrets_key),
        allow_private_targets=bool(settings.webhook_allow_private_targets),
    )
    document_store = document_store_from(settings)
    providers = build_providers(sessions, settings)
    carrier = CarrierActivities(sessions, providers, document_store, writer)
    payments = PaymentActivities(sessions, providers, settings.public_base_url)
    documents = DocumentActivities(sessions, document_store, store)
    routing = RoutingActivities(sessions)
    inventory = InventoryActivities(sessions)
    return [
        store.record_case,
        store.claim_serials,
        store.record_claiming,
        store.release_serials,
        store.project,
        store.move_asset,
        store.install_asset,
        store.current_plan_terms,
        store.replace_customer,
        store.open_plan_of,
        carrier.book_shipment,
        carrier.void_shipment,
        payments.execute_payment,
        documents.render_label,
        documents.render_packing_slip,
        documents.render_and_project,
        documents.render_repair_certificate,
        documents.render_relocation_certificate,
        documents.render_installation_certificate,
        documents.render_coverage_certificate,
        routing.route_repair,
        inventory.reserve_stock,
        inventory.release_stock,
        inventory.consume_stock,
        notify.deliver_webhook,
        notify.deliver_webhooks,
        notify.send_email,
        notify.give_up,
        campaigns.discover_recipients,
        campaigns.send_campaign_page,
        campaigns.finish_campaign,
        campaigns.send_warranty_notices,
    ]


def warranty_notice_schedule(task_queue: str) -> Schedule:
    """The daily warranty-end notices (`workflows.warranty_notices`): one run at a time (a
    run still going when the next is due has that one skipped: it tells the same units),
    and a day missed while Temporal was down is caught up within a day."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            WARRANTY_NOTICES_WORKFLOW,
            WarrantyRun(),
            id=f"{WARRANTY_NOTICES_SCHEDULE}-run",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(WARRANTY_NOTICE_HOUR_UTC)],
                    minute=[ScheduleRange(0)],
                    second=[ScheduleRange(0)],
                )
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Create the daily warranty-end notices' Temporal Schedule unless it exists (each
    worker does at start; `aftersales schedules ensure` does it by hand): idempotent, and a
    schedule an operator paused or edited is left as it is, but for one thing. Its runs
    start on the task queue it names, and one that names another than this worker's (the
    deployment's `AFTERSALES_TASK_QUEUE` changed since it was made) would start runs no
    worker polls: that task queue is moved to this worker's, nothing else of it changed."""
    try:
        await client.create_schedule(
            WARRANTY_NOTICES_SCHEDULE, warranty_notice_schedule(settings.task_queue)
        )
        log.info("schedule created", schedule=WARRANTY_NOTICES_SCHEDULE)
        return
    except ScheduleAlreadyRunningError:
        pass
    moved_from: list[str] = []

    def to_this_queue(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
        schedule = current.description.schedule
        action = schedule.action
        # The SDK may call this more than once (its conflict loop): the last call's counts.
        moved_from.clear()
        if (
            not isinstance(action, ScheduleActionStartWorkflow)
            or action.task_queue == settings.task_queue
        ):
            return None
        moved_from.append(action.task_queue)
        action.task_queue = settings.task_queue
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(WARRANTY_NOTICES_SCHEDULE).update(to_this_queue)
    if moved_from:
        log.warning(
            "schedule moved to this task queue",
            schedule=WARRANTY_NOTICES_SCHEDULE,
            previous_task_queue=moved_from[0],
            task_queue=settings.task_queue,
        )


class _ContextAsked(WorkflowInstance):
    """A sandboxed run, its payloads' serialization context asked of the run directly.

    The SDK asks a run for the context of each payload sequence it encodes or decodes (a
    dozen times per workflow task), and the sandbox answers by compiling and `exec`ing a
    snippet inside its import guard: 8.6 % of the worker's samples in bench/repair_flow.py.
    The answer is a lookup in the run's pending commands that neither imports nor calls
    anything the guard restricts, so it is asked of the same object without the detour.
    Activations still run inside the guard."""

    def __init__(self, sandboxed: WorkflowInstance) -> None:
        self._sandboxed = sandboxed
        # The run as the sandbox made it (`InSandbox`); its methods are what the snippet calls.
        self._run: Any = getattr(sandboxed, "globals_and_locals", {}).get("__temporal_in_sandbox")
        if self._run is None:
            raise RuntimeError("the SDK's sandbox no longer names its run __temporal_in_sandbox")

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self._sandboxed.activate(act)

    def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
        context: SerializationContext | None = self._run.get_serialization_context(command_info)
        return context

    def get_external_store_context(self, command_info: Any) -> Any:
        return self._run.get_external_store_context(command_info)

    def get_info(self) -> workflow.Info:
        return self._sandboxed.get_info()

    def get_thread_id(self) -> int | None:
        return self._sandboxed.get_thread_id()


@dataclasses.dataclass(frozen=True)
class _Sandbox(SandboxedWorkflowRunner):
    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextAsked(super().create_instance(det))


def sandboxed_runner() -> SandboxedWorkflowRunner:
    """The sandbox the worker runs workflows in: the SDK's default restrictions, with
    `PASSED_THROUGH` imported once per process."""
    return _Sandbox(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
    )


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """`sandboxed_runner`, unless AFTERSALES_WORKFLOW_SANDBOX turns the sandbox off."""
    return sandboxed_runner() if settings.workflow_sandbox else UnsandboxedWorkflowRunner()


def build_worker(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    handover: Handover | None = None,
    writer: ReadModelWriter | None = None,
) -> Worker:
    """The worker, its workflow steps writing through `writer` (`run_worker` gives the read
    model's writer on a thread of its own, and closes it; without one, on the event loop)."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=build_activities(
            sessions, settings, client, handover, writer or ReadModelWriter.on_loop(sessions)
        ),
        max_concurrent_activities=100,
        # A worker killed outright leaves the tasks of the workflows it had cached on its own
        # sticky queue; they move to the shared queue, where a restarted worker takes them,
        # only after this. The SDK's 10 s default was most of the 15 s a case may wait after
        # a crash; a live worker takes its sticky tasks in milliseconds.
        sticky_queue_schedule_to_start_timeout=STICKY_TIMEOUT,
        workflow_runner=workflow_runner(settings),
        # On SIGTERM (a deploy, a scale-down) running activities get this long to finish
        # before they are cancelled; their retries then run on another worker.
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_grace_seconds),
        # Tracing's interceptor comes with the client (temporal_client.connect).
        interceptors=[ActivityLogContext(), ActivityMetrics()],
    )


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then finish in-flight tasks and stop."""
    engine = make_engine(settings.database_url)
    tracing.instrument_engine(engine)
    # Before the client connects, so the client and the worker report into it.
    sdk_metrics = install_sdk_metrics()
    client = await connect(settings)
    sessions = make_sessionmaker(engine)
    handover = build_handover(client, sessions, settings)
    writer = ReadModelWriter.for_worker(sessions)
    worker = build_worker(client, sessions, settings, handover, writer)
    await ensure_schedules(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info(
        "worker started",
        task_queue=settings.task_queue,
        # Where it connected: TEMPORAL_ADDRESS or a temporal.toml profile may have said so.
        temporal=client.service_client.config.target_host,
        namespace=client.namespace,
    )
    try:
        # The sweep hands over what a worker that died left pending in the outbox; the
        # worker stops first, so what its last projections wrote is handed over too.
        async with (
            serving_metrics(
                settings.required_worker_metrics_host,
                settings.worker_metrics_port,
                BacklogGauges(sessions),
                sdk_metrics,
            ),
            handover.running(),
            worker,
        ):
            await stop.wait()
    finally:
        writer.close()
        await engine.dispose()
        log.info("worker stopped")


def serve(settings: Settings) -> None:
    """Run the worker until it is stopped. On uvloop, as uvicorn runs the API: the worker's
    own event loop is busy (polls, local activities, SQLite's thread hops), and uvloop took
    about 4.5 % off a repair job's CPU in all processes (docs/benchmarks.md)."""
    uvloop.run(run_worker(settings))


def main() -> None:
    from observability.logging import configure_logging
    from settings import get_settings

    settings = get_settings()
    configure_logging(settings)
    tracing.configure_tracing(settings, "aftersales-worker")
    serve(settings)


if __name__ == "__main__":
    main()
