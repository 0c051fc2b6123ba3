"""What a technician may do to a job now, read from the same rules the workflow's update
validators apply (`domain.repair`): the page offers exactly the steps the API would accept,
and the workflow still judges each one (a job that moved on meanwhile is refused inline)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.repair import REPORTABLE_FROM, RepairStatus, can_transition

S = RepairStatus

# The button of each status a center reports (`POST /v1/repairs/{id}/status`).
STEP_LABELS: dict[RepairStatus, str] = {
    S.RECEIVED: "Unit received",
    S.DIAGNOSING: "Start diagnosis",
    S.REPAIRING: "Parts in: start repair",
    S.QUALITY_CHECK: "Repair done: to quality check",
}

# What the job waits for when it is not the technician's move.
WAITING: dict[RepairStatus, str] = {
    S.AWAITING_UNIT: "Waiting for the unit to arrive. Mark it received when it is on the bench.",
    S.AWAITING_APPROVAL: "The quote is with the customer. The job moves on when they answer, "
    "or comes back unrepaired if the quote expires.",
    S.READY_TO_SHIP: "Print the shipping label and pack the unit; the carrier's pick-up scan "
    "moves the job to shipped.",
    S.SHIPPED: "On its way back to the customer.",
}


@dataclass(frozen=True)
class StepButton:
    status: str
    label: str


@dataclass(frozen=True)
class JobSteps:
    """The job's next steps: status reports (buttons), and whether the diagnosis or the
    quality-check form is the move now."""

    buttons: list[StepButton]
    diagnose: bool
    quality_check: bool
    waiting: str | None


def job_steps(status: str) -> JobSteps:
    try:
        current = RepairStatus(status)
    except ValueError:
        return JobSteps([], False, False, None)
    buttons = [
        StepButton(target.value, STEP_LABELS[target])
        for target, source in REPORTABLE_FROM.items()
        if source is current and can_transition(current, target)
    ]
    return JobSteps(
        buttons=buttons,
        # The diagnosis and QA validators' own conditions.
        diagnose=current is S.DIAGNOSING,
        quality_check=current is S.QUALITY_CHECK,
        waiting=WAITING.get(current),
    )
