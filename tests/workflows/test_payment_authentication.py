"""Strong customer authentication on the time-skipping server: a payment the gateway answers
`requires_action` (the built-in gateway's `pm_requires_action`) pauses its case until the
gateway's `payment_event` says how the customer's 3-D Secure went. Authenticated, the case
goes on as after an approved payment; failed, or not done within the day it waits, it takes
the case's declined path (a failed deposit hold, dunning)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from domain.common import Policy
from domain.contracts.facts import PAYMENT_ACTION, payment_action_of
from domain.contracts.payments import REQUIRES_ACTION, PaymentEvent
from domain.replacement import ReplacementCancel, ReplacementMode
from domain.service_plan import PaymentMethodChange, PlanStatus
from tests.support import eventually
from tests.workflows.kit import (
    REPLACEMENT_PRICE,
    RETAILER,
    Harness,
    PlanHandle,
    ReplacementHandle,
    add_stock,
    case_row,
    documents,
    events,
    new_sku,
    new_terms,
    open_plan,
    open_replacement,
    outcome,
    payments,
    plan_start,
    replacement_start,
    settle_and_terminate,
    sleep_until,
    timeline,
    typed,
    until_event,
    until_status,
)
from workflows.payments import AUTHENTICATION_WINDOW
from workflows.replacement import ReplacementWorkflow
from workflows.service_plan import ServicePlanWorkflow

ASKED = "payment_authentication_required"
AUTHENTICATED = "payment_authenticated"
NOT_AUTHENTICATED = "payment_authentication_failed"


async def awaited_reference(h: Harness, case: str, kind: str) -> str:
    """The gateway reference of the case's payment of `kind` waiting for its customer, once
    the case shows the wait."""
    await until_event(h, case, ASKED)
    waiting = [p for p in await payments(h, case, kind) if p.status == REQUIRES_ACTION]
    assert len(waiting) == 1, [(p.idempotency_key, p.status) for p in waiting]
    assert waiting[0].gateway_reference
    return waiting[0].gateway_reference


async def shown_action_url(h: Harness, case: str) -> str:
    row = await case_row(h, case)
    action = payment_action_of(row.data)
    assert action is not None, row.data.get(PAYMENT_ACTION)
    return action.url


async def action_cleared(h: Harness, case: str) -> None:
    row = await case_row(h, case)
    assert row.data[PAYMENT_ACTION] is None


async def entry(h: Harness, case: str, event: str) -> dict[str, str]:
    (found,) = [e for e in await timeline(h, case) if e.event == event]
    return dict(found.detail)


async def certificate_issued(h: Harness, plan_id: str) -> None:
    """Until the plan's activation has stored its certificate: the plan is idle only then
    (ending it while it renders would stall the time-skipping server's clock)."""

    async def issued() -> bool:
        return len(await documents(h, plan_id, "coverage_certificate")) == 1

    await eventually(issued, what=f"the certificate of {plan_id}")


async def advance_replacement_waiting(h: Harness) -> tuple[ReplacementHandle, str, str]:
    sku = new_sku()
    await add_stock(h, sku, 2)
    s = replacement_start(h, sku, mode=ReplacementMode.ADVANCE, payment_method="pm_requires_action")
    handle, view = await open_replacement(h, s)
    # The create call answers while the hold waits for the customer, not a day later.
    assert (view.status, view.reason) == ("requested", None)
    reference = await awaited_reference(h, s.replacement_id, "hold")
    return handle, s.replacement_id, reference


# -------------------------------------------------------------------------- tests


async def test_an_authenticated_hold_ships_the_advance_replacement(harness: Harness) -> None:
    h = harness
    handle, case, reference = await advance_replacement_waiting(h)
    url = await shown_action_url(h, case)
    assert url.startswith("http") and "authenticate" in url
    asked = await entry(h, case, ASKED)
    assert (asked["amount"], asked["currency"]) == (f"{REPLACEMENT_PRICE:.2f}", "USD")
    assert "expires_at" in asked
    assert (await case_row(h, case)).status == "requested"

    await handle.signal(ReplacementWorkflow.payment_event, PaymentEvent(reference, True))
    await until_status(h, case, "shipped")
    timeline_events = await events(h, case)
    assert timeline_events.index(ASKED) < timeline_events.index(AUTHENTICATED)
    assert timeline_events.index(AUTHENTICATED) < timeline_events.index("deposit_held")
    assert timeline_events.index("deposit_held") < timeline_events.index("shipped")
    await action_cleared(h, case)
    await settle_and_terminate(h, handle.id, case, "shipped")


async def test_a_failed_authentication_fails_the_hold(harness: Harness) -> None:
    h = harness
    handle, case, reference = await advance_replacement_waiting(h)
    # A second word on the same payment changes nothing: the first one stands.
    await handle.signal(
        ReplacementWorkflow.payment_event, PaymentEvent(reference, False, "3DS failed")
    )
    await handle.signal(ReplacementWorkflow.payment_event, PaymentEvent(reference, True))
    assert (await outcome(h, handle)).status == "payment_failed"
    row = await case_row(h, case)
    assert (row.status, row.reason) == ("payment_failed", "deposit_hold_declined")
    assert (await entry(h, case, NOT_AUTHENTICATED))["reason"] == "authentication_failed"
    assert AUTHENTICATED not in await events(h, case)
    await action_cleared(h, case)
    # Failed by the customer's bank: nothing to cancel with the gateway.
    assert [p.kind for p in await payments(h, case)] == ["hold"]


async def test_a_cancel_withdraws_the_hold_waiting_for_the_customer(harness: Harness) -> None:
    h = harness
    handle, case, reference = await advance_replacement_waiting(h)
    # Answered as the case ends, at once: the cancel does not wait out the customer's day.
    view = await handle.execute_update(
        typed(ReplacementWorkflow.cancel), ReplacementCancel(RETAILER, "customer changed mind")
    )
    assert view.status == "cancelled"
    assert (await outcome(h, handle)).status == "cancelled"
    assert (await entry(h, case, NOT_AUTHENTICATED))["reason"] == "payment_withdrawn"
    assert (await events(h, case))[-1] == "cancelled"
    await action_cleared(h, case)
    (withdrawn,) = await payments(h, case, "release")
    assert withdrawn.original_reference == reference
    (row,) = await payments(h, case, "hold")
    assert row.status == REQUIRES_ACTION  # never authorised: nothing was held


async def test_an_authenticated_first_charge_starts_the_plan(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms(), payment_method="pm_requires_action")
    handle, view = await open_plan(h, s)
    # Answered during the wait: enrolled, its first charge not yet made.
    assert view.status is PlanStatus.WAITING_PERIOD
    reference = await awaited_reference(h, s.plan_id, "charge")
    assert (await shown_action_url(h, s.plan_id)).startswith("http")

    await handle.signal(ServicePlanWorkflow.payment_event, PaymentEvent(reference, True))
    await until_status(h, s.plan_id, "active")
    assert (await events(h, s.plan_id))[:5] == [
        "enrolled",
        ASKED,
        AUTHENTICATED,
        "charged",
        "activated",
    ]
    await action_cleared(h, s.plan_id)
    await certificate_issued(h, s.plan_id)
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_a_dinar_charge_waiting_for_the_customer_shows_three_places(
    harness: Harness,
) -> None:
    """The pause, the link's facts and the charge all write 1.25 KWD as `1.250`."""
    h = harness
    terms = new_terms(price=Decimal("1.25"))
    s = plan_start(h, terms, payment_method="pm_requires_action", policy=Policy(currency="KWD"))
    handle, _ = await open_plan(h, s)
    reference = await awaited_reference(h, s.plan_id, "charge")
    assert (await entry(h, s.plan_id, ASKED))["amount"] == "1.250"
    action = (await case_row(h, s.plan_id)).data[PAYMENT_ACTION]
    assert (action["amount"], action["currency"]) == ("1.250", "KWD")

    await handle.signal(ServicePlanWorkflow.payment_event, PaymentEvent(reference, True))
    await until_status(h, s.plan_id, "active")
    assert await entry(h, s.plan_id, AUTHENTICATED) == {"amount": "1.250", "currency": "KWD"}
    assert (await entry(h, s.plan_id, "charged"))["amount"] == "1.250"
    await certificate_issued(h, s.plan_id)
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_an_unauthenticated_charge_expires_into_dunning(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms())
    handle, view = await open_plan(h, s)
    assert view.status is PlanStatus.ACTIVE
    await change_method(handle, "pm_requires_action")
    assert view.next_charge_at is not None
    await sleep_until(h, view.next_charge_at + timedelta(minutes=1))
    reference = await awaited_reference(h, s.plan_id, "charge")

    # Nobody authenticates: a day later the charge counts as declined.
    await h.env.sleep(AUTHENTICATION_WINDOW + timedelta(minutes=5))
    await until_status(h, s.plan_id, "past_due")
    assert (await entry(h, s.plan_id, NOT_AUTHENTICATED))["reason"] == "authentication_expired"
    timeline_events = await events(h, s.plan_id)
    assert timeline_events.index(NOT_AUTHENTICATED) < timeline_events.index("charge_failed")
    # Dunning counts from the failure, at the wait's end: its first retry is a day on, not
    # at once (the customer is not asked again the moment the first request lapsed).
    assert timeline_events.count(ASKED) == 1
    await action_cleared(h, s.plan_id)
    # The payment nobody authenticated is cancelled with the gateway, so a late
    # authentication cannot take the money for a case that moved on.
    (withdrawn,) = await payments(h, s.plan_id, "release")
    assert withdrawn.original_reference == reference

    # Dunning goes on as for any declined charge: a working card pays the period.
    await change_method(handle, "pm_ok")
    await until_status(h, s.plan_id, "active")
    assert "reactivated" in await events(h, s.plan_id)
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_an_unauthenticated_first_charge_rejects_the_plan(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms(), payment_method="pm_requires_action")
    handle, _ = await open_plan(h, s)
    await awaited_reference(h, s.plan_id, "charge")

    await h.env.sleep(AUTHENTICATION_WINDOW + timedelta(minutes=5))
    assert (await outcome(h, handle)).status is PlanStatus.REJECTED
    row = await case_row(h, s.plan_id)
    assert row.status == "rejected"
    assert (await events(h, s.plan_id))[-2:] == [NOT_AUTHENTICATED, "rejected"]


async def change_method(handle: PlanHandle, payment_method: str) -> None:
    await handle.execute_update(
        typed(ServicePlanWorkflow.change_payment_method), PaymentMethodChange(payment_method)
    )
