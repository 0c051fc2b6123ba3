"""The installation's pure rules: what each state allows, its facts as the read model keeps
them, who follows its events, the reminder email it calls for, and the checklist helpers it
shares with the relocation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.appointments import (
    ChecklistItem,
    Visit,
    certificate_lines,
    checklist_summary,
    failed_items,
)
from domain.common import Actor, Address
from domain.contracts.events import CaseEvent
from domain.contracts.facts import InstallationFacts, RelocatedAsset, facts_of
from domain.documents import ChecklistLine
from domain.events import event_type, pattern_problem, receives_events_of
from domain.installation import InstallationStatus, allowed_actions, training_words
from domain.notifications import Notice, notice_for
from domain.relocation import StageOutcome, StageReport

I = InstallationStatus  # noqa: E741 - the lifecycle's states
CHECKS = [ChecklistItem("anchored", True), ChecklistItem("level", False, "2 mm off")]


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (I.SCHEDULING, ("book", "cancel")),
        (I.SCHEDULED, ("book", "installed", "missed", "reschedule", "cancel")),
        (I.INSTALLED, ("commissioning",)),
        (I.COMPLETED, ()),
        (I.CANCELLED, ()),
    ],
)
def test_what_each_state_allows(status: InstallationStatus, allowed: tuple[str, ...]) -> None:
    assert allowed_actions(status) == allowed


def test_facts_round_trip_and_old_rows_read_as_defaults() -> None:
    facts = InstallationFacts(
        asset=RelocatedAsset("DC-9", "SN1", "Dental chair"),
        provider_org_id="prov",
        site=Address(line1="4 Harbour Quay", city="Bristol", postal_code="BS1", country="GB"),
        training=True,
        training_given=False,
        appointment=Visit(datetime(2026, 12, 3, 9, tzinfo=UTC), "Sam"),
        reschedules_used=1,
        max_reschedules=2,
        checklists={"installation": tuple(CHECKS)},
        asset_id="a1",
        customer_first_name="Jane",
    )
    assert InstallationFacts.from_data(facts.to_data()) == facts
    assert facts.reschedules_left == 1
    assert facts_of("installation", {}) == InstallationFacts()
    # A malformed visit or a training answer that is not a yes/no reads as absent.
    odd = InstallationFacts.from_data({"appointment": {"starts_at": "x"}, "training_given": "y"})
    assert (odd.appointment, odd.training_given) == (None, None)


def test_the_provider_follows_its_installations_events() -> None:
    assert receives_events_of("installation")
    assert pattern_problem("installation.*") is None
    assert event_type("installation", "scheduled", "appointment_booked", "scheduling") == (
        "installation.scheduled"
    )
    assert event_type("installation", "scheduled", "appointment_reminder", "scheduled") == (
        "installation.appointment_reminder"
    )


def test_the_reminder_emails_the_customer() -> None:
    reminder = notice_for(
        "installation", CaseEvent.APPOINTMENT_REMINDER, "scheduled", "scheduled", False
    )
    assert reminder is Notice.APPOINTMENT_REMINDER
    booked = notice_for(
        "installation", CaseEvent.APPOINTMENT_BOOKED, "scheduled", "scheduling", False
    )
    assert booked is None


def test_checklists_as_the_timeline_and_certificates_say_them() -> None:
    assert checklist_summary(CHECKS) == {"checklist": "1/2 passed"}
    assert failed_items(CHECKS) == ["level"]
    assert certificate_lines(CHECKS) == [
        ChecklistLine("anchored", True, ""),
        ChecklistLine("level", False, "2 mm off"),
    ]
    # The relocation's stage report words its checklist by the same rule.
    report = StageReport(Actor("repair_center", "prov"), StageOutcome.UNINSTALLED, CHECKS)
    assert report.summary() == checklist_summary(CHECKS)


def test_training_words() -> None:
    assert training_words(True, True) == "Given"
    assert training_words(True, False) == "Not given"
    assert training_words(True, None) == "Not given"
    assert training_words(False, None) == "Not requested"
