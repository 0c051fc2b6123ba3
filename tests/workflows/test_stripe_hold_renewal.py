"""An advance replacement's deposit held on Stripe (the local stub) on the time-skipping
server: a core out with the customer past the hold's renewal point gets a new manual-capture
PaymentIntent authorized before the old one is cancelled, so the card is never left
unguarded; when the core comes back the standing hold is cancelled and nothing is captured."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from activities.gateways.stripe import StripeGateway
from activities.payments import PaymentActivities
from domain.ids import replacement_workflow_id, step_key
from domain.replacement import HOLD_LIFETIME, HOLD_RENEW_BEFORE, CoreReceived, ReplacementMode
from tests.stubs.stripe import StripeStub
from tests.workflows.kit import (
    PUBLIC_BASE_URL,
    RETAILER,
    Harness,
    add_stock,
    case_row,
    deliver,
    events,
    new_sku,
    open_replacement,
    payments,
    replacement_start,
    side_worker,
    typed,
    until_event,
    until_status,
)
from workflows.replacement import ReplacementWorkflow

VISA = "pm_card_visa"


@pytest.fixture
def stub() -> Iterator[StripeStub]:
    server = StripeStub().start()
    try:
        yield server
    finally:
        server.stop()


def request_index(stub: StripeStub, path: str, ledger_key: str | None = None) -> int:
    """Where the first POST to `path` (for the ledger entry `ledger_key`, when given) came
    in the stub's log of requests."""
    return next(
        i
        for i, (method, seen, params) in enumerate(stub.requests)
        if method == "POST"
        and seen == path
        and (ledger_key is None or params["metadata"]["aftersales_payment"] == ledger_key)
    )


async def test_a_hold_outlasting_its_lifetime_is_renewed_on_stripe_then_released(
    harness: Harness, stub: StripeStub
) -> None:
    h = harness
    payer = PaymentActivities(
        h.sessions, StripeGateway(stub.secret_key, stub.base_url), PUBLIC_BASE_URL
    )
    sku = new_sku()
    await add_stock(h, sku, 1)
    s = replacement_start(h, sku, mode=ReplacementMode.ADVANCE, payment_method=VISA)
    wf_id = replacement_workflow_id(s.replacement_id)
    first_key, second_key = step_key(wf_id, "hold-1"), step_key(wf_id, "hold-2")
    async with side_worker(h, {"execute_payment": payer.execute_payment}) as queue:
        handle, view = await open_replacement(h, s, queue)
        assert view.status == "shipped"
        (first,) = stub.created()
        assert (first["capture_method"], first["status"]) == ("manual", "requires_capture")
        assert first["metadata"]["aftersales_payment"] == first_key
        await deliver(h, handle, s)
        await until_status(h, s.replacement_id, "awaiting_core")

        # The core is still out when hold-1 nears Stripe's lapse: one renewal, not two.
        await h.env.sleep(HOLD_LIFETIME - HOLD_RENEW_BEFORE + timedelta(hours=1))
        await until_event(h, s.replacement_id, "deposit_hold_renewed")
        first_out, second = stub.created()
        assert first_out["id"] == first["id"]
        assert second["metadata"]["aftersales_payment"] == second_key
        assert (second["capture_method"], second["status"]) == ("manual", "requires_capture")
        assert second["amount"] == first["amount"] == 24900
        assert stub.intents[first["id"]]["status"] == "canceled"
        # The new hold was authorized before the old one was let go.
        authorized = request_index(stub, "/v1/payment_intents", second_key)
        cancelled = request_index(stub, f"/v1/payment_intents/{first['id']}/cancel")
        assert authorized < cancelled

        back = await handle.execute_update(
            typed(ReplacementWorkflow.core_received), CoreReceived(RETAILER, note="core ok")
        )
        assert back.status == "completed"
        result = await handle.result()

    assert (result.status, result.core_charged) == ("completed", False)
    assert [pi["id"] for pi in stub.created()] == [first["id"], second["id"]]
    assert stub.intents[second["id"]]["status"] == "canceled"
    # Each hold cancelled once, the old one first; nothing captured, nothing received.
    cancels = [path for _, path, _ in stub.requests if path.endswith("/cancel")]
    assert cancels == [
        f"/v1/payment_intents/{first['id']}/cancel",
        f"/v1/payment_intents/{second['id']}/cancel",
    ]
    assert not [path for _, path, _ in stub.requests if path.endswith("/capture")]
    assert all(pi["amount_received"] == 0 for pi in stub.created())

    ledger = {row.idempotency_key: row for row in await payments(h, s.replacement_id)}
    assert {k: (p.kind, p.status, p.gateway_reference) for k, p in ledger.items()} == {
        first_key: ("hold", "succeeded", first["id"]),
        f"{first_key}/release": ("release", "succeeded", first["id"]),
        second_key: ("hold", "succeeded", second["id"]),
        f"{second_key}/release": ("release", "succeeded", second["id"]),
    }
    row = await case_row(h, s.replacement_id)
    assert (row.data["hold"]["status"], row.data["hold"]["renewals"]) == ("released", 1)
    assert (await events(h, s.replacement_id)).count("deposit_hold_renewed") == 1
