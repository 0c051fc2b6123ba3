"""Who sees a payment waiting for its customer in a case's representation: the retailer that
owns the case, to tell the customer where to confirm it; never a repair center or provider
working the case (the link is the customer's), nor a link that is not a web page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from api.case_views import Viewer
from db import models
from domain.contracts.facts import PAYMENT_ACTION, PaymentActionFacts

SINCE = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ACTION = PaymentActionFacts(
    url="https://bank.example/3ds/pi_123",
    since=SINCE,
    expires_at=SINCE + timedelta(hours=24),
    amount=Decimal("80"),
    currency="EUR",
    kind="hold",
)


def case_with(action: dict[str, str] | None) -> models.Case:
    return models.Case(
        id="RPL-1", org_id="shop", case_type="replacement", data={PAYMENT_ACTION: action}
    )


def test_the_owner_sees_the_payment_waiting_for_its_customer() -> None:
    shown = Viewer(owner=True).payment_action(case_with(ACTION.to_data()))
    assert shown is not None
    assert (shown.url, shown.since, shown.expires_at, shown.kind) == (
        ACTION.url,
        ACTION.since,
        ACTION.expires_at,
        "hold",
    )
    assert (shown.amount.amount, shown.amount.currency) == (Decimal("80.00"), "EUR")


def test_a_repair_center_never_sees_it() -> None:
    assert Viewer(owner=False).payment_action(case_with(ACTION.to_data())) is None


def test_nothing_is_shown_once_settled_or_for_a_link_that_is_no_web_page() -> None:
    assert Viewer(owner=True).payment_action(case_with(None)) is None
    assert Viewer(owner=True).payment_action(models.Case(id="RPL-2", data={})) is None
    scripted = {**ACTION.to_data(), "url": "javascript:alert(1)"}
    assert Viewer(owner=True).payment_action(case_with(scripted)) is None
