"""Which timeline entries call for an email to the customer. Pure: the read model decides
who gets one, `presentation.emails` writes it, the mail adapter sends it."""

from __future__ import annotations

from enum import StrEnum

from domain.common import CLOSED_STATUSES, CaseKind
from domain.contracts.events import CaseEvent
from domain.repair import RepairStatus
from domain.replacement import ReplacementStatus
from domain.rma import RmaStatus


class Notice(StrEnum):
    LABEL_READY = "label_ready"
    RECEIVED = "received"
    QUOTE_WAITING = "quote_waiting"
    SHIPPED_BACK = "shipped_back"
    REPLACEMENT_SHIPPED = "replacement_shipped"
    CORE_LABEL_READY = "core_label_ready"
    APPOINTMENT_REMINDER = "appointment_reminder"
    RENEWAL_UPCOMING = "renewal_upcoming"
    PLAN_TRANSFERRED = "plan_transferred"
    PAYMENT_AUTHENTICATION = "payment_authentication"
    # The case has ended: the last email, which asks for a rating (once per case).
    CASE_CLOSED = "case_closed"


def notice_for(
    case_type: str, event: str, status: str, previous_status: str | None, linked_rma: bool
) -> Notice | None:
    """The email a timeline entry calls for, if any."""
    entered = status if status != previous_status else None
    if event == CaseEvent.PAYMENT_AUTHENTICATION_REQUIRED:
        # Whatever the case: it stands still until the customer confirms the payment.
        return Notice.PAYMENT_AUTHENTICATION
    if case_type == CaseKind.RMA:
        if event == CaseEvent.LABEL_CREATED:
            return Notice.LABEL_READY
        if entered == RmaStatus.RECEIVED:
            return Notice.RECEIVED
        if event == CaseEvent.SHIPPING_BACK:
            return Notice.SHIPPED_BACK
    elif case_type == CaseKind.REPAIR:
        # A direct repair: the customer sends the unit on our label (an RMA's repair
        # travels on the RMA's label, already announced).
        if event == CaseEvent.LABEL_CREATED and not linked_rma:
            return Notice.LABEL_READY
        if event == CaseEvent.QUOTED:
            return Notice.QUOTE_WAITING
        # The RMA that sent the unit already told the customer it arrived.
        if entered == RepairStatus.RECEIVED and not linked_rma:
            return Notice.RECEIVED
        if entered == RepairStatus.SHIPPED:
            return Notice.SHIPPED_BACK
    elif case_type == CaseKind.REPLACEMENT:
        if entered == ReplacementStatus.SHIPPED:
            return Notice.REPLACEMENT_SHIPPED
        if event == CaseEvent.CORE_LABEL_CREATED:
            return Notice.CORE_LABEL_READY
    elif case_type in (CaseKind.RELOCATION, CaseKind.INSTALLATION):
        if event == CaseEvent.APPOINTMENT_REMINDER:
            return Notice.APPOINTMENT_REMINDER
    elif case_type == CaseKind.SERVICE_PLAN and event == CaseEvent.RENEWAL_UPCOMING:
        return Notice.RENEWAL_UPCOMING
    elif case_type == CaseKind.SERVICE_PLAN and event == CaseEvent.TRANSFERRED:
        # To the new owner, with the plan's new tracking link.
        return Notice.PLAN_TRANSFERRED
    if entered in CLOSED_STATUSES and not _carried_on(case_type, entered, linked_rma):
        return Notice.CASE_CLOSED
    return None


def _carried_on(case_type: str, status: str, linked_rma: bool) -> bool:
    """Whether another case carries on for the customer when this one ends, and asks for
    their rating when it ends in turn: an RMA's repair or replacement (the RMA closes
    after it), a repair beyond repair (its replacement)."""
    if linked_rma and case_type in (CaseKind.REPAIR, CaseKind.REPLACEMENT):
        return True
    return case_type == CaseKind.REPAIR and status == RepairStatus.BEYOND_REPAIR
