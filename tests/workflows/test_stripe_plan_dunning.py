"""A service plan billed on Stripe (the local stub) on the time-skipping server: a renewal
charge the card declines puts the plan past due, dunning retries it on its schedule (a new
Stripe attempt each time, never the declined answer replayed), and a working card pays the
period and reactivates it; every attempt is a PaymentIntent of its own in the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from activities.gateways.stripe import StripeGateway
from activities.payments import PaymentActivities
from domain.ids import service_plan_workflow_id
from domain.service_plan import PaymentMethodChange, PlanStatus
from tests.stubs.stripe import StripeStub
from tests.support import eventually
from tests.workflows.kit import (
    PUBLIC_BASE_URL,
    Harness,
    case_status,
    events,
    new_terms,
    payments,
    plan_start,
    settle_and_terminate,
    side_worker,
    sleep_until,
    typed,
    until_status,
    with_start,
)
from workflows.service_plan import ServicePlanWorkflow


@pytest.fixture
def stub() -> Iterator[StripeStub]:
    server = StripeStub().start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_declined_renewal_goes_to_dunning_then_a_new_card_pays(
    harness: Harness, stub: StripeStub
) -> None:
    h = harness
    payer = PaymentActivities(
        h.sessions, StripeGateway(stub.secret_key, stub.base_url), PUBLIC_BASE_URL
    )
    s = plan_start(h, new_terms(), payment_method="pm_card_visa")
    async with side_worker(h, {"execute_payment": payer.execute_payment}) as queue:
        operation = with_start(
            h, ServicePlanWorkflow.run, s, service_plan_workflow_id(s.plan_id), queue
        )
        view = await h.env.client.execute_update_with_start_workflow(
            typed(ServicePlanWorkflow.accept), start_workflow_operation=operation
        )
        handle = await operation.workflow_handle()
        assert view.status is PlanStatus.ACTIVE and view.next_charge_at is not None
        change = typed(ServicePlanWorkflow.change_payment_method)
        await handle.execute_update(change, PaymentMethodChange("pm_card_chargeDeclined"))

        await sleep_until(h, view.next_charge_at + timedelta(minutes=1))
        await until_status(h, s.plan_id, "past_due")
        first, renewal = await payments(h, s.plan_id, "charge")
        assert (first.status, renewal.status, renewal.attempts) == ("succeeded", "declined", 1)
        assert "generic_decline" in renewal.message
        declined = stub.intents[renewal.gateway_reference]
        assert declined["status"] == "requires_payment_method"

        # Dunning's first retry, a day on: a new attempt at Stripe, declined again.
        await h.env.sleep(timedelta(days=1, hours=1))

        async def retried() -> bool:
            row = next(p for p in await payments(h, s.plan_id, "charge") if p.id == renewal.id)
            return row.attempts == 2 and row.status == "declined"

        await eventually(retried, what="dunning's first retry")
        assert await case_status(h, s.plan_id) == "past_due"

        # A working card: paid at once, the plan active again.
        await handle.execute_update(change, PaymentMethodChange("pm_card_visa"))
        await until_status(h, s.plan_id, "active")
        assert "reactivated" in await events(h, s.plan_id)
        paid = next(p for p in await payments(h, s.plan_id, "charge") if p.id == renewal.id)
        assert (paid.status, paid.attempts) == ("succeeded", 3)
        assert stub.intents[paid.gateway_reference]["status"] == "succeeded"
        # One PaymentIntent per attempt, each under its own Stripe idempotency key.
        attempts = [
            pi
            for pi in stub.created()
            if pi["metadata"]["aftersales_payment"] == renewal.idempotency_key
        ]
        assert [pi["metadata"]["aftersales_attempt"] for pi in attempts] == ["1", "2", "3"]
        assert [pi["status"] for pi in attempts] == [
            "requires_payment_method",
            "requires_payment_method",
            "succeeded",
        ]
        await settle_and_terminate(h, handle.id, s.plan_id, "active")
