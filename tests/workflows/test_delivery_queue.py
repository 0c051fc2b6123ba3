"""The outbox and the delivery queue: every timeline entry's deliveries are written with it,
handed over again after a crash between commit and hand-over, and a receiver that stays
down is given up on after the default day of retries (on the time-skipping server)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from temporalio.client import WorkflowExecutionStatus

from activities.store import StoreActivities
from db import models
from db.outbox import OutboxConfig, PendingDelivery
from domain.common import Customer
from domain.contracts.store import CaseProjection, NewCase, TimelineEntry
from domain.delivery import ENQUEUE_SIGNAL, DeliveryQueueStart, QueuedDelivery
from tests.support import SECRET_BOX, free_port, replayer
from tests.workflows.kit import Harness
from workflows.delivery_queue import IDLE, MAX_BACKOFF, DeliveryQueueWorkflow

CONFIG = OutboxConfig("https://returns.example.com", send_email=False)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class RecordingDispatcher:
    """Stands in for the Temporal hand-over; can die once, after the commit."""

    def __init__(self) -> None:
        self.handed: list[PendingDelivery] = []
        self.crash_next = False

    async def dispatch(self, pending: list[PendingDelivery]) -> None:
        if self.crash_next:
            self.crash_next = False
            raise ConnectionError("worker died between commit and hand-over")
        self.handed.extend(pending)


def entry(seq: int, status: str, event: str, **detail: str) -> TimelineEntry:
    return TimelineEntry(seq, T0 + timedelta(minutes=seq), status, event, "system", detail)


async def subscribe(h: Harness, org_id: str, events: list[str], url: str = "") -> str:
    async with h.sessions.begin() as session:
        sub = models.WebhookSubscription(
            org_id=org_id,
            url=url or "http://127.0.0.1:9/hook",
            events=events,
            secret=SECRET_BOX.encrypt("s3cret"),
        )
        session.add(sub)
    return sub.id


async def new_org(h: Harness, kind: str) -> str:
    async with h.sessions.begin() as session:
        org = models.Organisation(name=f"{kind}-{uuid.uuid4().hex[:6]}", kind=kind)
        session.add(org)
    return org.id


@pytest.fixture
async def dispatcher_store(
    harness: Harness,
) -> AsyncIterator[tuple[StoreActivities, RecordingDispatcher]]:
    dispatcher = RecordingDispatcher()
    yield StoreActivities(harness.sessions, CONFIG, dispatcher), dispatcher


async def test_deliveries_and_emails_are_written_with_the_entry_and_handed_over_again_after_a_crash(
    harness: Harness, dispatcher_store: tuple[StoreActivities, RecordingDispatcher]
) -> None:
    store, dispatcher = dispatcher_store
    org = await new_org(harness, "retailer")
    center = await new_org(harness, "repair_center")
    everything = await subscribe(harness, org, ["rma.*"])
    received_only = await subscribe(harness, org, ["rma.received"])
    centers_hook = await subscribe(harness, center, ["*"])
    case_id = f"RMA-T-{uuid.uuid4().hex[:8]}"
    await store.record_case(
        NewCase(
            case_id=case_id,
            org_id=org,
            case_type="rma",
            workflow_id=f"rma:{case_id}",
            status="awaiting_return",
            tracking_token=uuid.uuid4().hex,
            customer=Customer("Grace Hopper", "grace@example.com"),
            created_at=T0,
            currency="USD",
            data={"customer_first_name": "Grace"},
            # An RMA shipped to a center is still the retailer's: the center gets no events.
            receiving_org_id=center,
            timeline=[
                entry(1, "awaiting_return", "created"),
                entry(2, "awaiting_return", "label_created", ship_by="2026-11-16T09:00:00+00:00"),
            ],
        )
    )
    assert [(d.seq, d.channel) for d in dispatcher.handed] == [(1, "webhook"), (2, "webhook")]
    async with harness.sessions() as session:
        deliveries = list(
            await session.scalars(
                select(models.WebhookDelivery)
                .where(models.WebhookDelivery.case_id == case_id)
                .order_by(models.WebhookDelivery.seq)
            )
        )
        emails = list(
            await session.scalars(select(models.Email).where(models.Email.case_id == case_id))
        )
    assert [(d.subscription_id, d.type) for d in deliveries] == [
        (everything, "rma.awaiting_return"),
        (everything, "rma.label_created"),
    ]
    assert deliveries[0].payload["event_id"] == deliveries[0].event_id
    assert deliveries[1].payload["data"]["detail"]["ship_by"] == "2026-11-16T09:00:00+00:00"
    (email,) = emails
    assert email.notice == "label_ready" and email.status == "outbox"
    assert email.to_address == "grace@example.com" and "Hello Grace," in email.body
    assert "Hopper" not in email.body and "16 November 2026" in email.body
    assert email.tracking_url.startswith("https://returns.example.com/track/")

    # The projection commits, then the worker dies before the hand-over...
    received = CaseProjection(
        case_id=case_id, status="received", updated_at=T0 + timedelta(hours=1),
        timeline=[entry(3, "received", "received")],
    )  # fmt: skip
    dispatcher.handed.clear()
    dispatcher.crash_next = True
    with pytest.raises(ConnectionError):
        await store.project(received)
    assert dispatcher.handed == []
    # ...and the retried projection writes nothing twice but hands the deliveries over.
    await store.project(received)
    assert sorted(d.queue for d in dispatcher.handed) == sorted(
        [f"webhooks:{everything}:{case_id}", f"webhooks:{received_only}:{case_id}"]
    )
    async with harness.sessions() as session:
        count = await session.scalar(
            select(func.count()).where(models.WebhookDelivery.case_id == case_id)
        )
        notices = list(
            await session.scalars(
                select(models.Email.notice).where(models.Email.case_id == case_id)
            )
        )
        centers = await session.scalar(
            select(func.count()).where(models.WebhookDelivery.subscription_id == centers_hook)
        )
    assert count == 4 and sorted(notices) == ["label_ready", "received"] and centers == 0

    # Once delivered, a replayed projection hands nothing over.
    async with harness.sessions.begin() as session:
        for delivery in await session.scalars(
            select(models.WebhookDelivery).where(models.WebhookDelivery.case_id == case_id)
        ):
            delivery.status = "delivered"
    dispatcher.handed.clear()
    await store.project(received)
    assert dispatcher.handed == []


async def test_a_receiver_down_for_a_day_is_given_up_on_after_the_default_window(
    harness: Harness,
) -> None:
    org = await new_org(harness, "retailer")
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    sub = await subscribe(harness, org, ["*"], dead)
    env = harness.env
    started = await env.get_current_time()
    async with harness.sessions.begin() as session:
        delivery = models.WebhookDelivery(
            subscription_id=sub, case_id="RMA-DOWN", seq=1, event_id="evt_down",
            type="rma.awaiting_return", payload={"event_id": "evt_down"}, created_at=started,
        )  # fmt: skip
        session.add(delivery)
    handle = await env.client.start_workflow(
        DeliveryQueueWorkflow.run,
        DeliveryQueueStart("webhook", timedelta(days=1), timedelta(seconds=10)),
        id=f"webhooks:{sub}:RMA-DOWN",
        task_queue=harness.settings.task_queue,
        start_signal=ENQUEUE_SIGNAL,
        start_signal_args=[QueuedDelivery(delivery.id, 1, started)],
    )
    await handle.result()  # gives up, then closes once idle
    # Temporal schedules no retry whose backoff would end past the window: the last try
    # falls within the window's final backoff (an hour at most), never after it. Read from
    # the run's close (given up, then idle for IDLE): the test server's clock may have
    # skipped on since, to another test's timer.
    closed_at = (await handle.describe()).close_time
    assert closed_at is not None
    given_up_after = closed_at - IDLE - started
    assert timedelta(days=1) - MAX_BACKOFF <= given_up_after <= timedelta(days=1) + MAX_BACKOFF
    async with harness.sessions() as session:
        stored = await session.get(models.WebhookDelivery, delivery.id)
        attempts = list(
            await session.scalars(
                select(models.WebhookAttempt)
                .where(models.WebhookAttempt.delivery_id == delivery.id)
                .order_by(models.WebhookAttempt.number)
            )
        )
    assert stored is not None and stored.status == "failed" and stored.failed_at is not None
    # Exponential backoff capped at an hour: about 24 hourly tries after the quick ones.
    assert 20 <= len(attempts) <= 40
    assert all(a.status_code is None and "ConnectError" in a.error for a in attempts)
    assert [a.number for a in attempts] == list(range(1, len(attempts) + 1))

    description = await handle.describe()
    assert description.status is WorkflowExecutionStatus.COMPLETED
    history = await handle.fetch_history()
    await replayer([DeliveryQueueWorkflow]).replay_workflow(history)


async def test_production_refuses_a_target_that_resolves_into_a_private_network(
    harness: Harness,
) -> None:
    import httpx
    from temporalio.exceptions import ApplicationError

    from activities.notify import NotifyActivities
    from domain.delivery import DeliveryRef

    org = await new_org(harness, "retailer")
    sub = await subscribe(harness, org, ["*"], "https://hooks.shop.example/in")
    async with harness.sessions.begin() as session:
        delivery = models.WebhookDelivery(
            subscription_id=sub, case_id="RMA-PRIV", seq=1, event_id="evt_priv",
            type="rma.awaiting_return", payload={}, created_at=T0,
        )  # fmt: skip
        session.add(delivery)
    async with httpx.AsyncClient() as http:

        async def into_the_vpc(host: str) -> list[str]:
            # A public-looking name whose DNS answer points inside the network.
            return ["203.0.113.9", "10.0.0.7"] if host == "hooks.shop.example" else []

        strict = NotifyActivities(
            harness.sessions,
            http,
            None,
            SECRET_BOX,
            allow_private_targets=False,
            resolve=into_the_vpc,
        )
        with pytest.raises(ApplicationError) as refused:
            await strict.deliver_webhook(DeliveryRef(delivery.id))
    assert refused.value.non_retryable and refused.value.type == "WebhookTargetNotPublic"
    async with harness.sessions() as session:
        stored = await session.get(models.WebhookDelivery, delivery.id)
        (attempt,) = await session.scalars(
            select(models.WebhookAttempt).where(models.WebhookAttempt.delivery_id == delivery.id)
        )
    assert stored is not None and stored.status == "failed"
    # One generic refusal: what the name resolved to inside the network is not told.
    assert attempt.error == "refused: webhooks go to public addresses only"
    assert "10.0.0.7" not in attempt.error
    assert attempt.status_code is None


async def test_what_waits_in_a_queue_goes_out_in_a_run_in_order_and_a_refusal_is_retried_alone(
    harness: Harness,
) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from domain.delivery import ENQUEUE_MANY_SIGNAL, QueuedDeliveries
    from tests.support import serve_asgi

    arrived: list[int] = []
    refused_once: set[int] = set()

    async def receive(request: Request) -> Response:
        seq = int(request.headers["X-Aftersales-Event-Id"].rsplit("_", 1)[1])
        arrived.append(seq)
        if seq == 2 and seq not in refused_once:
            refused_once.add(seq)
            return Response(status_code=503)
        return Response(status_code=204)

    port = free_port()
    org = await new_org(harness, "retailer")
    sub = await subscribe(harness, org, ["*"], f"http://127.0.0.1:{port}/hook")
    started = await harness.env.get_current_time()
    async with harness.sessions.begin() as session:
        rows = [
            models.WebhookDelivery(
                subscription_id=sub,
                case_id="RMA-RUN",
                seq=seq,
                event_id=f"evt_run_{seq}",
                type="rma.received",
                payload={"seq": seq},
                created_at=started,
            )
            for seq in (1, 2, 3, 4)
        ]
        session.add_all(rows)
    queued = [QueuedDelivery(row.id, row.seq, started) for row in rows]
    async with serve_asgi(Starlette(routes=[Route("/hook", receive, methods=["POST"])]), port):
        handle = await harness.env.client.start_workflow(
            DeliveryQueueWorkflow.run,
            DeliveryQueueStart("webhook", timedelta(days=1), timedelta(seconds=1)),
            id=f"webhooks:{sub}:RMA-RUN",
            task_queue=harness.settings.task_queue,
            start_signal=ENQUEUE_MANY_SIGNAL,
            # Out of order, and the first twice (a second hand-over): sent once, in order.
            start_signal_args=[QueuedDeliveries([queued[2], queued[0], queued[1], queued[0]])],
        )
        await handle.signal(ENQUEUE_SIGNAL, queued[3])
        await handle.result()  # all delivered, then closes once idle
    # The run stopped at the refusal; 2 was tried again alone, then 3 and 4 went on.
    assert arrived == [1, 2, 2, 3, 4]
    async with harness.sessions() as session:
        stored = {
            d.seq: (d.status, d.attempts)
            for d in await session.scalars(
                select(models.WebhookDelivery).where(models.WebhookDelivery.case_id == "RMA-RUN")
            )
        }
    assert stored == {
        1: ("delivered", 1),
        2: ("delivered", 2),
        3: ("delivered", 1),
        4: ("delivered", 1),
    }
    history = await handle.fetch_history()
    runs = [
        event
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
        and event.activity_task_scheduled_event_attributes.activity_type.name == "deliver_webhooks"
    ]
    assert runs  # in runs, not one activity per event
    await replayer([DeliveryQueueWorkflow]).replay_workflow(history)
