"""The tracking page's words: every state of every lifecycle reads as plain words, the steps
still to come, the next step with its deadline, and dates as people write them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from domain.contracts.facts import facts_of, parse_moment
from presentation.copy import (
    case_noun,
    document_words,
    event_note,
    event_title,
    refusal_words,
    status_words,
)
from presentation.formatting import human_date, human_datetime, money_words
from presentation.steps import (
    TimelineFact,
    TrackedCase,
    next_step,
    remaining_steps,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def test_status_words_for_a_return_follow_its_resolution_and_outcome() -> None:
    assert status_words("rma", "awaiting_return").headline == "We're waiting for your parcel"
    assert status_words("rma", "resolving", resolution="refund").headline == (
        "We're preparing your refund"
    )
    assert status_words("rma", "completed", outcome="repaired").headline == (
        "Your item has been repaired and sent back"
    )
    assert status_words("rma", "completed").headline == "Your return is complete"
    assert status_words("rma", "brand_new_state").headline == "Brand new state"
    assert status_words("nonsense", "x_y").headline == "X y"


def test_case_nouns() -> None:
    assert case_noun("rma") == "return"
    assert case_noun("service_plan") == "protection plan"
    assert case_noun("other") == "case"


def test_remaining_steps_follow_the_path_from_the_current_state() -> None:
    assert remaining_steps("rma", "awaiting_return", resolution="refund") == [
        "Your parcel travels to us",
        "We receive your parcel",
        "We inspect your item",
        "We pay your refund",
    ]
    assert remaining_steps("rma", "resolving", resolution="repair") == [
        "Your item is repaired and sent back"
    ]
    paid = remaining_steps("repair", "diagnosing", coverage="paid")
    covered = remaining_steps("repair", "diagnosing", coverage="warranty")
    assert paid[0] == "You approve the repair quote" and paid[1:] == covered
    assert "The parts arrive" not in paid  # unknown until the diagnosis lists parts
    assert remaining_steps("repair", "awaiting_approval", coverage="paid")[0] == (
        "Your unit is repaired"
    )
    advance = remaining_steps("replacement", "backordered", mode="advance")
    assert advance == [
        "We send your replacement",
        "Your replacement is delivered",
        "You send back your old unit",
        "Your replacement is complete",
    ]
    assert "You send back your old unit" not in remaining_steps(
        "replacement", "shipped", mode="standard"
    )
    assert remaining_steps("relocation", "reinstalled") == ["Your relocation is complete"]
    assert remaining_steps("service_plan", "past_due") == [
        "Your cover is active",
        "Your term renews or ends",
    ]
    assert remaining_steps("service_plan", "active") == ["Your term renews or ends"]
    assert remaining_steps("unknown", "active") == []


# ------------------------------------------------------------------ dates and money


def test_human_dates() -> None:
    assert human_date(date(2026, 12, 7), TODAY) == "7 December"
    assert human_date(date(2027, 1, 3), TODAY) == "3 January 2027"
    assert human_date(date(2025, 12, 31), TODAY) == "31 December 2025"
    # Shown in UTC: late evening in New York is the next day.
    evening = datetime(2026, 12, 7, 21, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert human_date(evening, TODAY) == "8 December"
    assert human_datetime(datetime(2026, 12, 7, 9, 5, tzinfo=UTC), TODAY) == (
        "7 December at 09:05 UTC"
    )


def test_parse_moment() -> None:
    assert parse_moment("2026-12-07T10:00:00+00:00") == datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert parse_moment("2026-12-07T10:00:00Z") == datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert parse_moment("2026-12-07T10:00:00") == datetime(2026, 12, 7, 10, tzinfo=UTC)
    for bad in (None, "", "soon", 42):
        assert parse_moment(bad) is None


def test_money_words() -> None:
    assert money_words("90", "USD") == "$90.00"
    assert money_words("1234.5", "GBP") == "£1,234.50"
    # A currency without a symbol of its own in English reads with its code (CLDR's).
    assert money_words("12.00", "CHF") == "CHF\xa012.00"
    assert money_words("n/a", "USD") == "n/a USD"


# ------------------------------------------------------------------ next step


def _event(event: str, **detail: str) -> TimelineFact:
    return TimelineFact(NOW, event, detail)


def _tracked(
    case_type: str,
    status: str,
    data: dict[str, Any],
    events: Sequence[TimelineFact] = (),
    resolution: str | None = None,
    coverage: str | None = None,
) -> TrackedCase:
    """A tracked case whose facts are parsed from `data`, as the page parses a row's."""
    facts = facts_of(case_type, data)
    return TrackedCase(case_type, status, facts, events, resolution=resolution, coverage=coverage)


def test_next_step_of_a_return_waiting_for_its_parcel_is_the_ship_by_date() -> None:
    label = _event("label_created", tracking_number="1Z", ship_by="2026-12-07T11:00:00+00:00")
    step = next_step(_tracked("rma", "awaiting_return", {}, [label]), NOW)
    assert step is not None and step.yours
    assert step.deadline == "Ship by 7 December"
    assert step.due == datetime(2026, 12, 7, 11, tzinfo=UTC)
    before_label = next_step(_tracked("rma", "awaiting_return", {}), NOW)
    assert before_label is not None and before_label.deadline is None
    assert not before_label.yours


def test_next_step_of_a_quote_is_its_amount_and_expiry() -> None:
    quote = {"total": "90.00", "expires_at": "2026-12-03T12:00:00+00:00"}
    repair = _tracked("repair", "awaiting_approval", {"quote": quote}, coverage="paid")
    step = next_step(repair, NOW)
    assert step is not None and step.yours
    assert "$90.00" in step.title
    assert step.deadline == "Approve the quote by 3 December"
    # A return resolving through that repair shows the repair's step.
    rma = _tracked("rma", "resolving", {}, resolution="repair")
    assert next_step(rma, NOW, linked=repair) == step
    assert next_step(rma, NOW) is not None


def test_next_step_of_an_advance_exchange_is_the_core_deadline() -> None:
    core = _event("core_label_created", core_due="2027-01-15T00:00:00+00:00")
    step = next_step(_tracked("replacement", "awaiting_core", {"mode": "advance"}, [core]), NOW)
    assert step is not None and step.yours
    assert step.deadline == "Send it back by 15 January 2027"


def test_next_step_of_a_relocation_is_its_appointment() -> None:
    appointment = {"stage": "uninstall", "starts_at": "2026-12-07T09:00:00+00:00"}
    booked = _tracked("relocation", "uninstall_scheduled", {"appointment": appointment})
    step = next_step(booked, NOW)
    assert step is not None
    assert step.deadline == "Uninstall visit on 7 December at 09:00 UTC"
    asked = _event("reschedule_requested", stage="uninstall", preferred_after="2026-12-10")
    waiting = next_step(
        _tracked("relocation", "scheduling_uninstall", {"appointment": None}, [asked]), NOW
    )
    assert waiting is not None and waiting.deadline is None
    assert waiting.note == "You asked for a date after 10 December."


def test_next_step_of_a_plan_is_its_next_payment_or_term_end() -> None:
    data = {
        "next_charge_at": "2026-12-23T12:00:00+00:00",
        "term_ends_at": "2027-11-23T12:00:00+00:00",
    }
    step = next_step(_tracked("service_plan", "active", data), NOW)
    assert step is not None
    assert step.deadline == "Next payment on 23 December"
    assert step.note == "Your current term runs until 23 November 2027."
    notice = _event("renewal_upcoming", auto_renew="true", term_ends_at=data["term_ends_at"])
    renewing = next_step(_tracked("service_plan", "active", data, [notice]), NOW)
    assert renewing is not None and renewing.note == "Your plan renews on 23 November 2027."
    paid_up = _tracked("service_plan", "active", {"term_ends_at": data["term_ends_at"]})
    last = next_step(paid_up, NOW)
    assert last is not None and last.deadline == "Term ends on 23 November 2027"
    overdue = next_step(_tracked("service_plan", "past_due", data), NOW)
    assert overdue is not None and overdue.deadline is None


# ------------------------------------------------------------------ timeline entries


def test_event_titles() -> None:
    assert event_title("rma", "label_created", {}) == "Return label ready"
    assert event_title("repair", "carrier_delivered", {}) == "Delivered by the carrier"
    assert event_title("relocation", "appointment_booked", {"stage": "reinstall"}) == (
        "Reinstall visit booked"
    )
    assert event_title("relocation", "reschedule_requested", {"stage": "uninstall"}) == (
        "You asked for another uninstall date"
    )
    assert event_title("repair", "routed", {}) is None
    assert event_title("repair", "sla_breached", {}) is None
    assert event_title("rma", "something_new", {}) == "Something new"


def test_event_notes_show_only_known_public_facts() -> None:
    note = event_note(
        {"amount": "90.00", "currency": "USD", "expires_at": "2026-12-03T12:00:00+00:00"},
        "USD",
        TODAY,
    )
    assert note == "$90.00 · Answer by 3 December"
    assert event_note({"tracking_number": "1Z9"}, "USD", TODAY) == "Tracking number 1Z9"
    assert event_note({"reason": "waiting_period"}, "USD", TODAY) == ("Still in the waiting period")
    # Free text (a retailer's cancel reason, a note) never reaches the page.
    assert event_note({"reason": "Ada Lovelace called", "note": "at 12 Row"}, "USD", TODAY) == ""


def test_document_and_refusal_words() -> None:
    assert document_words("return_label") == "Return label"
    assert document_words("repair_certificate") == "Certificate of Repair"
    assert document_words("mystery_doc") == "Mystery doc"
    assert "expired" in refusal_words("invalid_transition", "quote")
    assert "as many times as allowed" in refusal_words("reschedule_limit_reached", "reschedule")
    assert refusal_words("anything_else", "quote")
