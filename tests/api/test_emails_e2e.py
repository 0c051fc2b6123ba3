"""Customer emails end to end, on SQLite and PostgreSQL, with the real dev server, worker and
API: each step that matters leaves exactly one email in the outbox for its case, addressed to
the customer, greeting them by first name, with a tracking link that opens; steps that should
not email do not; `aftersales outbox` lists them; and with an SMTP server configured they
really go out, or end `failed` once the retry window has passed."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from activities.store import StoreActivities
from db import models
from db.outbox import OutboxConfig
from db.session import make_engine, make_sessionmaker
from domain.contracts.store import CaseProjection, TimelineEntry
from tests.api.helpers import add_product, customer, make_org, wait_for
from tests.api.read_model import Sessions
from tests.api.test_plans import plan
from tests.api.test_relocation_e2e import FROM_SITE, TO_SITE
from tests.api.test_repair_e2e import DIAGNOSIS, new_center, repair_body
from tests.api.test_replacement_e2e import replacement_body, shop_with_stock
from tests.api.test_rma_e2e import carrier, new_retailer, rma_body, scan, wait_until, with_label
from tests.api.test_service_plan_e2e import enrolment
from tests.support import DELIVERY_RETRY_WINDOW, Stack, free_port, run_stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER_EMAIL = customer()["email"]
FIRST_NAME, LAST_NAME = customer()["name"].split()


# ----------------------------------------------------------------------------- helpers


async def emails_of(sessions: Sessions, case_id: str) -> list[models.Email]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(models.Email)
                .where(models.Email.case_id == case_id)
                .order_by(models.Email.seq)
            )
        )


async def notices(sessions: Sessions, case_id: str) -> Counter[str]:
    return Counter(email.notice for email in await emails_of(sessions, case_id))


async def one_email(
    stack: Stack, sessions: Sessions, case_id: str, notice: str, token: str, within: float = 20
) -> models.Email:
    """The case's one email for `notice` (waited for), checked as the customer sees it."""
    deadline = time.monotonic() + within
    while True:
        found = [e for e in await emails_of(sessions, case_id) if e.notice == notice]
        if found or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert len(found) == 1, f"{case_id} {notice}: {[(e.notice, e.seq) for e in found]}"
    email = found[0]
    link = f"{stack.base_url}/track/{token}"
    assert email.to_address == CUSTOMER_EMAIL
    assert case_id in email.subject
    assert email.body.startswith(f"Hello {FIRST_NAME},\n"), email.body
    assert LAST_NAME not in email.body and LAST_NAME not in email.subject
    assert email.tracking_url == link
    assert link in email.body.splitlines()
    assert email.status == "outbox"  # no SMTP server configured
    assert email.event_id and email.created_at
    async with httpx.AsyncClient(timeout=30) as anyone:
        page = await anyone.get(email.tracking_url)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
    return email


def long_date(iso: str) -> str:
    """How the emails write a date: '7 December 2026' (UTC)."""
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    return f"{moment.day} {moment:%B %Y}"


def soon(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


# ----------------------------------------------------------------------- every notice


async def test_rma_label_received_and_shipped_back(stack: Stack, sessions: Sessions) -> None:
    retailer = await make_org(stack, "retailer")
    pricey = (await add_product(stack, retailer, price="1500.00"))["sku"]
    async with stack.http(retailer.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(pricey))
        assert created.status_code == 201, created.text
        rma = created.json()
        rma_id, token = rma["id"], rma["tracking_token"]
        assert rma["status"] == "pending_review"
        # Recorded (emails commit with the timeline entry they report), and no label yet:
        # nothing to tell the customer.
        await wait_until(http, rma_id, lambda b: bool(b["timeline"]))
        assert await notices(sessions, rma_id) == Counter()

        approved = await http.post(f"/v1/rmas/{rma_id}/approve")
        assert approved.status_code == 200, approved.text
        rma = await wait_until(http, rma_id, with_label)
        label = await one_email(stack, sessions, rma_id, "label_ready", token)
        assert "label" in label.subject.lower()
        async with sessions() as session:
            entry = await session.scalar(
                select(models.TimelineEvent).where(
                    models.TimelineEvent.case_id == rma_id,
                    models.TimelineEvent.seq == label.seq,
                )
            )
        assert entry is not None and entry.event == "label_created"
        assert f"by {long_date(entry.detail['ship_by'])}." in label.body
        assert await notices(sessions, rma_id) == Counter({"label_ready": 1})

        inbound = rma["shipments"][0]["tracking_number"]
        assert (await carrier(stack, scan(inbound, "picked_up"))).status_code == 200
        await wait_until(http, rma_id, lambda b: b["status"] == "in_transit")
        assert await notices(sessions, rma_id) == Counter({"label_ready": 1})  # scans: none

        received = await http.post(f"/v1/rmas/{rma_id}/receive", json={"note": "dock 3"})
        assert received.status_code == 200, received.text
        await one_email(stack, sessions, rma_id, "received", token)

        # Grade C on a refund: no refund, the unit goes back to the customer.
        inspected = await http.post(
            f"/v1/rmas/{rma_id}/inspection", json={"grade": "C", "serial_matches": True}
        )
        assert inspected.status_code == 200, inspected.text
        rma = await wait_until(
            http, rma_id, lambda b: any(e["event"] == "shipping_back" for e in b["timeline"])
        )
        outbound = next(s for s in rma["shipments"] if s["direction"] == "outbound")
        back = await one_email(stack, sessions, rma_id, "shipped_back", token)
        assert outbound["tracking_number"] in back.body

    assert (await carrier(stack, scan(outbound["tracking_number"], "picked_up"))).status_code == 200
    assert (await carrier(stack, scan(outbound["tracking_number"], "delivered"))).status_code == 200
    async with stack.http(retailer.key) as http:
        done = await wait_until(http, rma_id, lambda b: b["status"] == "completed")
        assert done["outcome"] == "returned_to_customer"
    # The case moved on through more projections: still one email per notice, and the
    # last one asks for a rating.
    expected = Counter({"label_ready": 1, "received": 1, "shipped_back": 1, "case_closed": 1})
    assert await notices(sessions, rma_id) == expected
    # A retried projection hands over entries already stored: no email twice.
    await reproject_everything(stack, sessions, rma_id)
    assert await notices(sessions, rma_id) == expected


async def reproject_everything(stack: Stack, sessions: Sessions, case_id: str) -> None:
    """Project every stored timeline entry of the case again, as a retried projection
    activity would (with its old timestamp: the case row keeps its status)."""
    async with sessions() as session:
        stored = list(
            await session.scalars(
                select(models.TimelineEvent)
                .where(models.TimelineEvent.case_id == case_id)
                .order_by(models.TimelineEvent.seq)
            )
        )
        case = await session.get(models.Case, case_id)
        assert case is not None and len(stored) > 3
        status = case.status
    store = StoreActivities(sessions, OutboxConfig(stack.settings.public_base_url, False))
    for row in stored:
        entry = TimelineEntry(row.seq, row.at, row.status, row.event, row.actor, dict(row.detail))
        await store.project(CaseProjection(case_id, row.status, row.at, timeline=[entry]))
    await store.project(
        CaseProjection(
            case_id,
            status,
            stored[0].at,
            timeline=[
                TimelineEntry(r.seq, r.at, r.status, r.event, r.actor, dict(r.detail))
                for r in stored
            ],
        )
    )
    async with sessions() as session:
        case = await session.get(models.Case, case_id)
        assert case is not None and case.status == status


async def test_paid_repair_received_quote_and_shipped(stack: Stack, sessions: Sessions) -> None:
    category = f"mail-{uuid.uuid4().hex[:6]}"
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category=category, warranty_months=12)
    center = await new_center(stack, category)
    async with stack.http(retailer.key) as shop:
        created = await shop.post("/v1/repairs", json=repair_body(product["sku"]))
        assert created.status_code == 201, created.text
        job = created.json()
        assert (job["status"], job["coverage"]) == ("awaiting_unit", "paid")
        repair_id, token = job["id"], job["tracking_token"]
        path = f"/v1/repairs/{repair_id}"
        await wait_for(shop, path, lambda b: bool(b["documents"]) and bool(b["shipments"]))

    # A direct repair: the customer sends the unit to the center on our label.
    label = await one_email(stack, sessions, repair_id, "label_ready", token)
    assert "label" in label.subject.lower()
    async with stack.http(center.key) as bench:
        step = await bench.post(f"{path}/status", json={"status": "received"})
        assert step.status_code == 200, step.text
        # A repair the retailer sent directly: the center's receipt is the customer's news.
        await one_email(stack, sessions, repair_id, "received", token)
        step = await bench.post(f"{path}/status", json={"status": "diagnosing"})
        assert step.status_code == 200, step.text
        step = await bench.post(f"{path}/diagnosis", json=DIAGNOSIS)
        assert step.status_code == 200, step.text
        quote = step.json()["quote"]
        assert step.json()["status"] == "awaiting_approval"

    quoted = await one_email(stack, sessions, repair_id, "quote_waiting", token)
    assert quote["total"] == {"amount": "90.00", "currency": "USD"}
    assert "$90.00" in quoted.body
    assert f"by {long_date(quote['expires_at'])}" in quoted.body
    assert "quote" in quoted.subject.lower()

    async with stack.http() as person:
        approved = await person.post(f"/v1/track/{token}/quote", json={"approve": True})
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "awaiting_parts"
    async with stack.http(center.key) as bench:
        for status in ("repairing", "quality_check"):
            step = await bench.post(f"{path}/status", json={"status": status})
            assert step.status_code == 200 and step.json()["status"] == status, step.text
        step = await bench.post(f"{path}/qa", json={"passed": True})
        assert step.status_code == 200 and step.json()["status"] == "ready_to_ship", step.text
        outbound = next(s for s in step.json()["shipments"] if s["direction"] == "outbound")
        # Ready to ship is not shipped: nothing yet.
        assert await notices(sessions, repair_id) == Counter(
            {"label_ready": 1, "received": 1, "quote_waiting": 1}
        )

    assert (await carrier(stack, scan(outbound["tracking_number"], "picked_up"))).status_code == 200
    shipped = await one_email(stack, sessions, repair_id, "shipped_back", token)
    assert outbound["tracking_number"] in shipped.body
    assert (await carrier(stack, scan(outbound["tracking_number"], "delivered"))).status_code == 200
    async with stack.http(retailer.key) as shop:
        await wait_for(shop, path, lambda b: b["status"] == "completed")
    assert await notices(sessions, repair_id) == Counter(
        {"label_ready": 1, "received": 1, "quote_waiting": 1, "shipped_back": 1, "case_closed": 1}
    )


async def test_repair_child_of_an_rma_sends_no_second_received(
    stack: Stack, sessions: Sessions
) -> None:
    category = f"mail-{uuid.uuid4().hex[:6]}"
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, price="120.00", category=category)
    center = await new_center(stack, category)
    async with stack.http(retailer.key) as shop:
        created = await shop.post("/v1/rmas", json=rma_body(product["sku"], resolution="repair"))
        assert created.status_code == 201, created.text
        rma_id, token = created.json()["id"], created.json()["tracking_token"]
        await wait_until(shop, rma_id, with_label)
    async with stack.http(center.key) as bench:
        assert (await bench.post(f"/v1/rmas/{rma_id}/receive")).status_code == 200
        inspected = await bench.post(
            f"/v1/rmas/{rma_id}/inspection", json={"grade": "D", "serial_matches": True}
        )
        assert inspected.status_code == 200, inspected.text
        repair_id = inspected.json()["repair_id"]
        await wait_for(bench, f"/v1/repairs/{repair_id}", lambda b: b.get("status") == "received")
        step = await bench.post(f"/v1/repairs/{repair_id}/status", json={"status": "diagnosing"})
        assert step.status_code == 200, step.text
    await one_email(stack, sessions, rma_id, "label_ready", token)
    await one_email(stack, sessions, rma_id, "received", token)
    # The child starts `received` and moves on; the RMA already told the customer.
    assert await notices(sessions, repair_id) == Counter()
    assert await notices(sessions, rma_id) == Counter({"label_ready": 1, "received": 1})


async def test_advance_replacement_shipped_and_core_label(stack: Stack, sessions: Sessions) -> None:
    retailer, sku = await shop_with_stock(stack, 1)
    async with stack.http(retailer.key) as shop:
        created = await shop.post(
            "/v1/replacements", json=replacement_body(sku, mode="advance", payment_method="pm_ok")
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["status"] == "shipped"
        replacement_id, token = body["id"], body["tracking_token"]
        path = f"/v1/replacements/{replacement_id}"
        outbound = next(s for s in body["shipments"] if s["direction"] == "outbound")
    shipped = await one_email(stack, sessions, replacement_id, "replacement_shipped", token)
    assert outbound["tracking_number"] in shipped.body
    assert await notices(sessions, replacement_id) == Counter({"replacement_shipped": 1})

    assert (await carrier(stack, scan(outbound["tracking_number"], "delivered"))).status_code == 200
    async with stack.http(retailer.key) as shop:
        await wait_for(
            shop, path, lambda b: b["status"] == "awaiting_core" and len(b["shipments"]) == 2
        )
        core = await one_email(stack, sessions, replacement_id, "core_label_ready", token)
        assert "deposit" in core.body
        back = await shop.post(f"{path}/core-received", json={"note": "core intact"})
        assert back.status_code == 200 and back.json()["status"] == "completed", back.text
    assert await notices(sessions, replacement_id) == Counter(
        {"replacement_shipped": 1, "core_label_ready": 1, "case_closed": 1}
    )


async def test_relocation_appointment_reminder(stack: Stack, sessions: Sessions) -> None:
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category="lab")
    provider = await make_org(stack, "repair_center")
    async with stack.http(retailer.key) as shop:
        created = await shop.post(
            "/v1/relocations",
            json={
                "asset": {"sku": product["sku"], "serial": f"LAB-{uuid.uuid4().hex[:8]}"},
                "provider_org_id": provider.id,
                "from_site": FROM_SITE,
                "to_site": TO_SITE,
                "customer": customer(),
            },
        )
        assert created.status_code == 201, created.text
        relocation_id, token = created.json()["id"], created.json()["tracking_token"]
    path = f"/v1/relocations/{relocation_id}"
    async with stack.http(provider.key) as field, stack.http() as person:
        # Days ahead: the reminder is a timer for later, no email now.
        far = {"stage": "uninstall", "starts_at": soon(days=3), "technician": "Sam"}
        booked = await field.post(f"{path}/appointments", json=far)
        assert booked.status_code == 200, booked.text
        assert booked.json()["status"] == "uninstall_scheduled"
        assert await notices(sessions, relocation_id) == Counter()
        moved = await person.post(f"/v1/track/{token}/reschedule", json={"stage": "uninstall"})
        assert moved.status_code == 200, moved.text
        # Within 24 hours: the reminder is due at once.
        starts_at = soon(hours=3)
        near = {"stage": "uninstall", "starts_at": starts_at, "technician": "Sam"}
        assert (await field.post(f"{path}/appointments", json=near)).status_code == 200
        await wait_for(
            field,
            path,
            lambda b: any(e["event"] == "appointment_reminder" for e in b["timeline"]),
        )
    reminder = await one_email(stack, sessions, relocation_id, "appointment_reminder", token)
    moment = datetime.fromisoformat(starts_at).astimezone(UTC)
    assert f"{long_date(starts_at)} at {moment:%H:%M} UTC" in reminder.body
    assert "uninstall" in reminder.subject
    async with stack.http(retailer.key) as shop:
        cancelled = await shop.post(f"{path}/cancel", json={"reason": "done testing"})
        assert cancelled.status_code == 200, cancelled.text
    assert await notices(sessions, relocation_id) == Counter(
        {"appointment_reminder": 1, "case_closed": 1}
    )


async def test_service_plan_renewal_upcoming(stack: Stack, sessions: Sessions) -> None:
    # The plan's notice period (40 days) is longer than its one-month term: the notice is
    # due at enrolment, so the dev server (no clock to skip) reaches it at once.
    retailer = await make_org(stack, "retailer")
    product = await add_product(
        stack, retailer, category=f"none-{uuid.uuid4().hex[:6]}", warranty_months=3
    )
    code = f"MAIL-{uuid.uuid4().hex[:6]}"
    async with stack.http(retailer.key) as shop:
        made = await shop.post(
            "/v1/plans",
            json=plan(
                code,
                billing_period="monthly",
                term_months=1,
                waiting_period="PT0S",
                renewal_notice="P40D",
            ),
        )
        assert made.status_code == 201, made.text
        enrolled = await shop.post(
            "/v1/service-plans",
            json=enrolment(code, product["sku"], f"SN-{uuid.uuid4().hex[:8]}"),
        )
        assert enrolled.status_code == 201, enrolled.text
        body = enrolled.json()
        plan_id, token = body["id"], body["tracking_token"]
        path = f"/v1/service-plans/{plan_id}"
        body = await wait_for(
            shop, path, lambda b: any(e["event"] == "renewal_upcoming" for e in b["timeline"])
        )
        renewal = await one_email(stack, sessions, plan_id, "renewal_upcoming", token)
        assert f"ends on {long_date(body['term_ends_at'])}" in renewal.body
        assert "renews automatically" in renewal.body
        cancelled = await shop.post(f"{path}/cancel")
        assert cancelled.status_code == 200, cancelled.text
    assert await notices(sessions, plan_id) == Counter({"renewal_upcoming": 1, "case_closed": 1})


# ----------------------------------------------------------------------------- the CLI


def outbox_cli(database_url: str, *args: str) -> str:
    import subprocess

    env = {
        **os.environ,
        "AFTERSALES_DATABASE_URL": database_url,
        "AFTERSALES_ENV": "development",
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli", "outbox", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_outbox_cli_lists_a_cases_emails(stack: Stack, sessions: Sessions) -> None:
    retailer, sku = await new_retailer(stack)
    async with stack.http(retailer.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku))
        assert created.status_code == 201, created.text
        rma_id, token = created.json()["id"], created.json()["tracking_token"]
        await wait_until(http, rma_id, with_label)
        assert (await http.post(f"/v1/rmas/{rma_id}/receive")).status_code == 200
    label = await one_email(stack, sessions, rma_id, "label_ready", token)
    received = await one_email(stack, sessions, rma_id, "received", token)
    url = stack.settings.database_url

    async def cli(*args: str) -> str:
        return await asyncio.to_thread(outbox_cli, url, *args)

    # Each run is a fresh process (about a second): run them side by side.
    listed, newest, sent = await asyncio.gather(
        cli("--case", rma_id, "--body"),
        cli("--case", rma_id, "--status", "outbox", "--limit", "1"),
        cli("--case", rma_id, "--status", "sent"),
    )
    for email in (label, received):
        assert email.subject in listed
    assert listed.count(f"{stack.base_url}/track/{token}") == 4  # the link line and the body
    assert listed.count(CUSTOMER_EMAIL) == 2
    assert f"Hello {FIRST_NAME}," in listed and LAST_NAME not in listed
    heads = [line for line in listed.splitlines() if rma_id in line and not line.startswith(" ")]
    assert len(heads) == 2
    assert all(" outbox " in head for head in heads)
    # Newest first.
    assert "received" in heads[0] and "label_ready" in heads[1]
    assert listed.index(received.subject) < listed.index(label.subject)

    # Filtered by status, limited, without bodies.
    assert received.subject in newest and label.subject not in newest
    assert f"{stack.base_url}/track/{token}" in newest and "Hello" not in newest
    assert sent.strip() == "the outbox is empty"


# ------------------------------------------------------------------------- real SMTP


@dataclass
class Inbox:
    """What the SMTP server accepted."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        parsed = message_from_bytes(raw, policy=email_policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _sqlite_url(tmp: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp}/aftersales-{uuid.uuid4().hex[:6]}.db"


@pytest.fixture
async def smtp_stack(
    dev_server: WorkflowEnvironment, tmp_path: Path, smtp_server: tuple[Inbox, int]
) -> AsyncIterator[Stack]:
    """A stack of its own whose emails go to the test's SMTP server."""
    tmp = tmp_path / "smtp"
    tmp.mkdir()
    async with run_stack(
        "smtp",
        _sqlite_url(tmp),
        dev_server.client.service_client.config.target_host,
        dev_server.client,
        tmp,
        smtp_url=f"smtp://127.0.0.1:{smtp_server[1]}",
    ) as running:
        yield running


@pytest.fixture
async def dead_smtp_stack(dev_server: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    """A stack whose SMTP server is not there: nothing listens on its port."""
    tmp = tmp_path / "dead-smtp"
    tmp.mkdir()
    async with run_stack(
        "nosmtp",
        _sqlite_url(tmp),
        dev_server.client.service_client.config.target_host,
        dev_server.client,
        tmp,
        smtp_url=f"smtp://127.0.0.1:{free_port()}",
    ) as running:
        yield running


async def _rma_with_label(stack: Stack) -> tuple[str, str]:
    retailer, sku = await new_retailer(stack)
    async with stack.http(retailer.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku))
        assert created.status_code == 201, created.text
        await wait_until(http, created.json()["id"], with_label)
        return created.json()["id"], created.json()["tracking_token"]


async def _email_when(
    sessions: Sessions, case_id: str, done: Any, within: float, what: str
) -> models.Email:
    deadline = time.monotonic() + within
    while True:
        emails = await emails_of(sessions, case_id)
        if emails and done(emails[0]):
            assert len(emails) == 1
            return emails[0]
        if time.monotonic() > deadline:
            state = [(e.status, e.attempts, e.last_error) for e in emails]
            raise AssertionError(f"timed out waiting for {what}: {state}")
        await asyncio.sleep(0.1)


async def test_smtp_sends_the_email_or_gives_up_after_the_window(
    smtp_server: tuple[Inbox, int], smtp_stack: Stack, dead_smtp_stack: Stack
) -> None:
    inbox, _ = smtp_server
    live_engine = make_engine(smtp_stack.settings.database_url)
    dead_engine = make_engine(dead_smtp_stack.settings.database_url)
    live, dead = make_sessionmaker(live_engine), make_sessionmaker(dead_engine)
    try:
        # The unreachable server first: its retry window runs while the other one sends.
        dead_id, _ = await _rma_with_label(dead_smtp_stack)
        case_id, token = await _rma_with_label(smtp_stack)

        email = await _email_when(live, case_id, lambda e: e.status == "sent", 20, "sent")
        assert email.notice == "label_ready" and email.sent_at is not None
        assert email.attempts == 1 and email.last_error == ""
        link = f"{smtp_stack.base_url}/track/{token}"
        assert email.tracking_url == link
        mine = [m for m in inbox.messages if m["Message-ID"] == f"<{email.id}@aftersales.invalid>"]
        assert len(mine) == 1, [m["Message-ID"] for m in inbox.messages]
        message = mine[0]
        assert message["To"] == CUSTOMER_EMAIL
        assert message["From"] == smtp_stack.settings.email_from
        assert message["Subject"] == email.subject and case_id in message["Subject"]
        assert message["Auto-Submitted"] == "auto-generated"
        text = message.get_content()
        assert text.startswith(f"Hello {FIRST_NAME},") and link in text
        assert LAST_NAME not in text
        async with httpx.AsyncClient(timeout=30) as anyone:
            assert (await anyone.get(link)).status_code == 200

        window = DELIVERY_RETRY_WINDOW.total_seconds()
        failed = await _email_when(
            dead, dead_id, lambda e: e.status == "failed", window + 40, "failed"
        )
        assert failed.attempts > 1
        assert failed.last_error
        assert failed.sent_at is None
        assert not [m for m in inbox.messages if dead_id in str(m["Subject"])]
    finally:
        await live_engine.dispose()
        await dead_engine.dispose()
