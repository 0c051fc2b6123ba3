"""What each customer email says: a greeting by first name, the case, its deadlines and
amounts in words, and the link to the tracking page."""

from __future__ import annotations

import pytest

from domain.notifications import Notice
from presentation.emails import EmailContext, compose

CTX = EmailContext(
    first_name="Ada",
    case_id="RMA-2026-ABCD1234",
    retailer="Acme Audio",
    tracking_url="https://returns.example.com/track/tok",
    detail={
        "ship_by": "2026-12-07T10:00:00+00:00",
        "amount": "90.00",
        "currency": "USD",
        "expires_at": "2026-12-03T10:00:00+00:00",
        "tracking_number": "1Z999",
        "core_due": "2027-01-05T10:00:00+00:00",
        "stage": "uninstall",
        "starts_at": "2026-12-01T14:30:00+00:00",
        "term_ends_at": "2026-12-20T00:00:00+00:00",
        "auto_renew": "true",
    },
)


@pytest.mark.parametrize("notice", list(Notice))
def test_every_email_greets_by_first_name_names_the_case_and_links_the_page(
    notice: Notice,
) -> None:
    email = compose(notice, CTX)
    assert CTX.case_id in email.subject
    assert email.body.startswith("Hello Ada,\n")
    assert f"\n{CTX.tracking_url}\n" in email.body
    assert email.body.rstrip().endswith("Acme Audio")


def test_emails_carry_their_deadlines_amounts_and_tracking_numbers_in_words() -> None:
    assert "by 7 December 2026" in compose(Notice.LABEL_READY, CTX).body
    quote = compose(Notice.QUOTE_WAITING, CTX).body
    assert "$90.00" in quote and "by 3 December 2026" in quote
    assert "1Z999" in compose(Notice.SHIPPED_BACK, CTX).body
    assert "by 5 January 2027" in compose(Notice.CORE_LABEL_READY, CTX).body
    reminder = compose(Notice.APPOINTMENT_REMINDER, CTX)
    assert "uninstall" in reminder.subject and "1 December 2026 at 14:30 UTC" in reminder.body
    renewal = compose(Notice.RENEWAL_UPCOMING, CTX).body
    assert "20 December 2026" in renewal and "renews automatically" in renewal
    manual = EmailContext(**{**CTX.__dict__, "detail": {**CTX.detail, "auto_renew": "false"}})
    assert "does not renew by itself" in compose(Notice.RENEWAL_UPCOMING, manual).body
    no_name = EmailContext(**{**CTX.__dict__, "first_name": ""})
    assert compose(Notice.RECEIVED, no_name).body.startswith("Hello,\n")


def test_the_payment_to_confirm_carries_the_banks_link_and_its_deadline() -> None:
    with_link = EmailContext(**{**CTX.__dict__, "action_url": "https://bank.example/3ds/pi_1"})
    email = compose(Notice.PAYMENT_AUTHENTICATION, with_link)
    assert email.subject == f"Please confirm your payment ({CTX.case_id})"
    assert "\nhttps://bank.example/3ds/pi_1\n" in email.body
    assert "$90.00" in email.body and "by 3 December 2026" in email.body
    # Without the bank's link (a row written before it was kept), the page leads there.
    assert (
        "The page below takes you to your bank" in compose(Notice.PAYMENT_AUTHENTICATION, CTX).body
    )
