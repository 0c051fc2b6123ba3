"""The pure rules of campaigns, warranty-end notices and feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.campaign import (
    campaign_email_id,
    pause_after,
    purchased_within,
    serial_matches,
    warranty_ends_at,
    warranty_notice_due,
)
from domain.events import pattern_problem
from domain.feedback import case_ended, feedback_event_id, needs_follow_up

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_serial_prefix_and_purchase_window() -> None:
    assert serial_matches("BAT-001", "BAT-") and serial_matches("X", None)
    assert not serial_matches("OLD-001", "BAT-")
    start, end = NOW - timedelta(days=30), NOW
    assert purchased_within(NOW - timedelta(days=1), start, end)
    assert not purchased_within(NOW - timedelta(days=31), start, end)
    assert not purchased_within(None, start, None)  # a window needs a known date
    assert purchased_within(None, None, None)


def test_one_email_id_per_customer_and_serial() -> None:
    assert campaign_email_id("c1", "Ada@Example.com", "S1") == campaign_email_id(
        "c1", "ada@example.com", "S1"
    )
    assert campaign_email_id("c1", "ada@example.com", "S1") != campaign_email_id(
        "c1", "ada@example.com", "S2"
    )
    assert len(campaign_email_id("c1", "a@b.c", "S")) <= 40  # fits emails.event_id


def test_warranty_notice_due_within_30_days_and_not_after_the_end() -> None:
    ends = warranty_ends_at(datetime(2025, 12, 20, tzinfo=UTC), 12)
    assert ends == datetime(2026, 12, 20, tzinfo=UTC)
    assert warranty_notice_due(ends, NOW)
    assert not warranty_notice_due(ends, ends)  # over: nothing to offer
    assert not warranty_notice_due(ends + timedelta(days=40), NOW)
    assert warranty_ends_at(datetime(2026, 1, 31, tzinfo=UTC), 1).day == 28


def test_pace() -> None:
    assert pause_after(20, 20) == timedelta(seconds=1)
    assert pause_after(5, 0) == timedelta(seconds=5)


def test_feedback_rules() -> None:
    assert needs_follow_up(1) and needs_follow_up(2) and not needs_follow_up(3)
    assert case_ended("completed") and case_ended("cancelled") and not case_ended("received")
    assert feedback_event_id("RMA-1") == feedback_event_id("RMA-1") != feedback_event_id("RMA-2")
    assert pattern_problem("feedback.*") is None
    assert pattern_problem("feedback.received") is None
    assert pattern_problem("nothing.*") is not None
