"""An installation end to end over HTTP, on SQLite and PostgreSQL, with the real dev server
and worker: the provider books, the customer reschedules from the tracking endpoint and
from the tracking page's form (a real Chromium reads the page), the provider installs and
commissions with the training given; the certificate parses back and verifies with the
training, the asset stands at the site; the visit's reminder emails the customer; limits,
refusals and cancel."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

from playwright.async_api import Browser
from pypdf import PdfReader

from tests.api.helpers import Org, add_product, customer, make_org, wait_for
from tests.api.read_model import Sessions
from tests.api.test_emails_e2e import long_date, notices, one_email
from tests.api.test_foundation import assert_problem
from tests.api.test_tracking_page import (
    PHONE,
    assert_html_page,
    assert_no_personal_data,
    browser,
    day_words,
    h1,
    text_of,
)
from tests.support import Stack

# A fixture shared with the tracking page's tests: the module's Chromium.
__all__ = ["browser"]

SITE = {
    "name": "Riverside Clinic",
    "line1": "4 Harbour Quay",
    "city": "Bristol",
    "postal_code": "BS1 4RN",
    "country": "GB",
}
CHECKS = [
    {"item": "Chair anchored to the floor", "passed": True},
    {"item": "Water line pressure", "passed": True, "note": "2.1 bar"},
]
PASSING = [{"item": "Full movement cycle", "passed": True, "note": "no faults"}]


def soon(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def ordered(
    stack: Stack, *, training: bool = True, max_reschedules: int | None = None
) -> tuple[Org, Org, dict[str, Any], dict[str, Any]]:
    """A retailer, a provider and an installation ordered: (retailer, provider, body, case)."""
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category="dental")
    provider = await make_org(stack, "repair_center")
    body = {
        "asset": {"sku": product["sku"], "serial": f"DC-{uuid.uuid4().hex[:8]}"},
        "provider_org_id": provider.id,
        "site": SITE,
        "customer": customer(),
        "training": training,
    }
    async with stack.http(retailer.key) as shop:
        if max_reschedules is not None:
            policy = await shop.put("/v1/policy", json={"max_reschedules": max_reschedules})
            assert policy.status_code == 200, policy.text
        created = await shop.post("/v1/installations", json=body)
        assert created.status_code == 201, created.text
    return retailer, provider, body, created.json()


async def test_an_installation_from_order_to_certificate(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category="dental")
    provider = await make_org(stack, "repair_center")
    stranger = await make_org(stack, "repair_center")
    serial = f"DC-{uuid.uuid4().hex[:8]}"
    body = {
        "asset": {"sku": product["sku"], "serial": serial},
        "provider_org_id": provider.id,
        "site": SITE,
        "customer": customer(),
        "training": True,
    }
    async with stack.http(retailer.key) as shop:
        bad = dict(body, provider_org_id=retailer.id)
        assert_problem(await shop.post("/v1/installations", json=bad), 422, "unknown_provider")
        unknown = dict(body, asset={"sku": "NOPE-1", "serial": serial})
        assert_problem(await shop.post("/v1/installations", json=unknown), 422, "unknown_sku")
        nul = dict(body, site=dict(SITE, line1="4 Harbour\x00Quay"))
        assert_problem(await shop.post("/v1/installations", json=nul), 422, "validation_error")
        key = {"Idempotency-Key": f"ins-{uuid.uuid4().hex[:8]}"}
        created = await shop.post("/v1/installations", json=body, headers=key)
        assert created.status_code == 201, created.text
        installation = created.json()
        again = await shop.post("/v1/installations", json=body, headers=key)
        assert again.status_code == 201 and again.json()["id"] == installation["id"]
        assert (installation["status"], installation["training"]) == ("scheduling", True)
        assert (installation["asset_id"], installation["training_given"]) == (None, None)
        assert installation["site"]["line1"] == SITE["line1"]
        assert installation["customer"]["email"] == customer()["email"]
        token = installation["tracking_token"]
        path = f"/v1/installations/{installation['id']}"
        # One open case per unit.
        assert_problem(await shop.post("/v1/installations", json=body), 409, "duplicate_open_case")
        listed = (await shop.get("/v1/installations", params={"status": "scheduling"})).json()
        assert installation["id"] in [i["id"] for i in listed["items"]]
        # Only the provider books the visit.
        visit = {"starts_at": soon(3), "technician": "Sam"}
        assert_problem(await shop.post(f"{path}/appointments", json=visit), 403, "forbidden")

    async with stack.http(stranger.key) as other:
        assert_problem(await other.get(path), 404, "not_found")
        visit = {"starts_at": soon(3), "technician": "Sam"}
        assert_problem(await other.post(f"{path}/appointments", json=visit), 404, "not_found")
        assert installation["id"] not in [
            i["id"] for i in (await other.get("/v1/installations")).json()["items"]
        ]

    async with stack.http(provider.key) as field:
        past = {"starts_at": soon(-1), "technician": "Sam"}
        assert_problem(
            await field.post(f"{path}/appointments", json=past), 422, "appointment_in_past"
        )
        refused = await field.post(f"{path}/commissioning", json={"checklist": PASSING})
        assert_problem(refused, 409, "invalid_transition")
        assert refused.json()["current_status"] == "scheduling"
        assert refused.json()["allowed"] == ["book", "cancel"]
        visit = {"starts_at": soon(3), "technician": "Sam"}
        key = {"Idempotency-Key": f"book-{uuid.uuid4().hex[:8]}"}
        booked = await field.post(f"{path}/appointments", json=visit, headers=key)
        assert booked.status_code == 200, booked.text
        # The same key is the same command: the first answer, and one booking.
        again = await field.post(f"{path}/appointments", json=visit, headers=key)
        assert again.status_code == 200 and again.json() == booked.json()
        events = [e["event"] for e in (await field.get(path)).json()["timeline"]]
        assert events.count("appointment_booked") == 1
        changed = await field.post(
            f"{path}/appointments", json=dict(visit, technician="Kim"), headers=key
        )
        assert_problem(changed, 409, "idempotency_conflict")
        shown = booked.json()
        assert (shown["status"], shown["appointment"]["technician"]) == ("scheduled", "Sam")
        # The provider's view: no tracking token, the customer as name and address only.
        assert shown["tracking_token"] is None
        assert shown["customer"].keys() == {"name", "address"}
        assert installation["id"] in [
            i["id"] for i in (await field.get("/v1/installations")).json()["items"]
        ]

    # The customer asks for another date from the tracking endpoint.
    async with stack.http() as person:
        tracking = (await person.get(f"/v1/track/{token}")).json()
        assert (tracking["case_type"], tracking["status"]) == ("installation", "scheduled")
        assert [a["action"] for a in tracking["actions"]] == ["reschedule_installation"]
        backwards = await person.post(
            f"/v1/track/{token}/reschedule", json={"preferred_after": soon(-1)}
        )
        assert_problem(backwards, 422, "preferred_date_in_past")
        wrong = await person.post(f"/v1/track/{token}/reschedule", json={"stage": "uninstall"})
        assert_problem(wrong, 409, "invalid_transition")
        moved = await person.post(
            f"/v1/track/{token}/reschedule", json={"preferred_after": soon(7)}
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == "scheduling"
        assert moved.json()["actions"] == []

    async with stack.http(provider.key) as field:
        rebooked = await field.post(
            f"{path}/appointments", json={"starts_at": soon(8), "technician": "Kim"}
        )
        assert rebooked.status_code == 200, rebooked.text
        assert rebooked.json()["reschedules_used"] == 1
        done = await field.post(f"{path}/status", json={"status": "installed", "checklist": CHECKS})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "installed"
        assert [c["item"] for c in done.json()["checklists"]["installation"]] == [
            c["item"] for c in CHECKS
        ]
        # Training was asked: commissioning must say whether it was given.
        silent = await field.post(f"{path}/commissioning", json={"checklist": PASSING})
        assert_problem(silent, 422, "training_not_reported")
        failing = [{"item": "Full movement cycle", "passed": False, "note": "tilt sticks"}]
        step = await field.post(
            f"{path}/commissioning", json={"checklist": failing, "training_given": True}
        )
        assert step.status_code == 200 and step.json()["status"] == "installed", step.text
        step = await field.post(
            f"{path}/commissioning", json={"checklist": PASSING, "training_given": True}
        )
        assert step.status_code == 200, step.text
        finished = step.json()
        assert (finished["status"], finished["training_given"]) == ("completed", True)
        assert finished["asset_id"]
        events = [e["event"] for e in finished["timeline"]]
        assert events.index("commissioning_failed") < events.index("commissioned")

    certificate = next(d for d in finished["documents"] if d["kind"] == "installation_certificate")
    async with stack.http(retailer.key) as shop:
        cancel = await shop.post(f"{path}/cancel", json={"reason": "too late"})
        assert_problem(cancel, 409, "invalid_transition")
        pdf = (await shop.get(certificate["url"])).content
        reader = PdfReader(BytesIO(pdf))
        text = "\n".join(p.extract_text() for p in reader.pages)
        for expected in (
            "Installation Certificate",
            installation["id"],
            serial,
            SITE["line1"],
            "Water line pressure",
            "Full movement cycle",
            "TRAINING",
            "Given",
            "Kim",
            certificate["verification_code"],
        ):
            assert expected in text, expected
        assert "Lovelace" not in text  # the customer's first name only
        asset = (await shop.get(f"/v1/assets/{finished['asset_id']}")).json()
        assert (asset["serial"], asset["site"]["line1"]) == (serial, SITE["line1"])
        # The unit's case is closed: it may have its next one.
        relocation = await shop.post(
            "/v1/relocations",
            json={
                "asset": body["asset"],
                "provider_org_id": provider.id,
                "from_site": SITE,
                "to_site": dict(SITE, line1="1 New Street"),
                "customer": customer(),
            },
        )
        assert relocation.status_code == 201, relocation.text
        assert relocation.json()["asset_id"] == finished["asset_id"]
    async with stack.http() as anyone:
        verified = await anyone.get(f"/v1/verify/{certificate['verification_code']}")
        assert verified.status_code == 200, verified.text
        assert verified.json()["kind"] == "installation_certificate"
        assert verified.json()["case_id"] == installation["id"]
        assert verified.json()["training"] == {"requested": True, "given": True}
        page = (await anyone.get(f"/v1/track/{token}")).json()
        assert page["status"] == "completed"
        assert any(d["kind"] == "installation_certificate" for d in page["documents"])


async def test_reschedule_limit_missed_visit_and_cancel(stack: Stack) -> None:
    _, provider, _, installation = await ordered(stack, training=False, max_reschedules=1)
    token, path = installation["tracking_token"], f"/v1/installations/{installation['id']}"
    visit = {"starts_at": soon(4), "technician": "Sam"}
    async with stack.http(provider.key) as field, stack.http() as person:
        assert (await field.post(f"{path}/appointments", json=visit)).status_code == 200
        first = await person.post(f"/v1/track/{token}/reschedule", json={"stage": "installation"})
        assert first.status_code == 200, first.text
        assert (await field.post(f"{path}/appointments", json=visit)).status_code == 200
        assert (await person.get(f"/v1/track/{token}")).json()["actions"] == []
        second = await person.post(f"/v1/track/{token}/reschedule", json={})
        assert_problem(second, 409, "reschedule_limit_reached")
        # The technician found nobody on site: back to booking.
        missed = await field.post(f"{path}/status", json={"status": "missed"})
        assert missed.status_code == 200, missed.text
        assert (missed.json()["status"], missed.json()["appointment"]) == ("scheduling", None)
        early = await field.post(f"{path}/status", json={"status": "installed", "checklist": []})
        assert_problem(early, 409, "invalid_transition")
        assert early.json()["allowed"] == ["book", "cancel"]
        # Training was not asked: commissioning without a word of it is fine (not reached).
        assert (await field.get(path)).json()["training"] is False
    async with stack.http(provider.key) as field:
        assert_problem(await field.post(f"{path}/cancel"), 403, "forbidden")
    async with stack.http() as person:
        after = await person.post(f"/v1/track/{token}/reschedule", json={})
        assert_problem(after, 409, "invalid_transition")
    _, _, _, other = await ordered(stack, training=False)
    async with stack.http(provider.key) as field:
        # Another provider's installation is not this provider's to see.
        assert_problem(await field.get(f"/v1/installations/{other['id']}"), 404, "not_found")


async def test_cancel_until_installed(stack: Stack) -> None:
    retailer, _, _, installation = await ordered(stack, training=False)
    path = f"/v1/installations/{installation['id']}"
    async with stack.http(retailer.key) as shop:
        key = {"Idempotency-Key": f"cancel-{uuid.uuid4().hex[:8]}"}
        cancelled = await shop.post(
            f"{path}/cancel", json={"reason": "site not ready"}, headers=key
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        # The same key answers the first answer and changes nothing.
        again = await shop.post(f"{path}/cancel", json={"reason": "site not ready"}, headers=key)
        assert again.status_code == 200 and again.json() == cancelled.json()
        assert cancelled.json()["timeline"][-1]["detail"] == {"reason": "site not ready"}
        assert_problem(await shop.post(f"{path}/cancel"), 409, "invalid_transition")


async def test_the_tracking_page_reschedules_the_visit_from_its_form(
    stack: Stack, browser: Browser
) -> None:
    _, provider, _, installation = await ordered(stack, training=True)
    token, path = installation["tracking_token"], f"/v1/installations/{installation['id']}"
    starts_at = datetime.fromisoformat(soon(4)).replace(hour=9, minute=30, second=0, microsecond=0)
    async with stack.http(provider.key) as field:
        visit = {"starts_at": starts_at.isoformat(), "technician": "Sam"}
        assert (await field.post(f"{path}/appointments", json=visit)).status_code == 200

    context = await browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = await context.new_page()
        await page.goto(f"{stack.base_url}/track/{token}")
        assert await page.locator("h1").inner_text() == "Your installation visit is booked"
        deadline = await page.locator("#deadline").inner_text()
        assert deadline == f"Installation visit on {day_words(starts_at)} at 09:30 UTC"
        assert "training session" in await page.locator("main").inner_text()
        assert "Reschedule the installation visit" in await page.locator("#reschedule").inner_text()
        preferred = (datetime.now(UTC) + timedelta(days=9)).date()
        await page.fill("#preferred_after", preferred.isoformat())
        await page.click("#reschedule button[type=submit]")
        await page.wait_for_url(f"{stack.base_url}/track/{token}")
        assert await page.locator("h1").inner_text() == "We're booking your installation visit"
        timeline = await page.locator("#timeline").inner_text()
        assert "You asked for another installation date" in timeline
        assert await page.locator("#reschedule").count() == 0
        html = await page.content()
        assert SITE["line1"] not in html and SITE["postal_code"] not in html
        assert_no_personal_data(html)
    finally:
        await context.close()

    async with stack.http(provider.key) as field:
        shown = await wait_for(field, path, lambda b: b["status"] == "scheduling")
        assert shown["reschedules_used"] == 1
    async with stack.http() as person:
        html = assert_html_page(await person.get(f"/track/{token}"), 200)
        assert h1(html) == "We're booking your installation visit"
        assert "After" in text_of(html, "timeline")
        wrong = await person.post(f"/track/{token}/reschedule", data={"stage": "reinstall"})
        assert "can't be done any more" in text_of(assert_html_page(wrong, 409), "message")


async def test_the_visit_reminder_emails_the_customer(stack: Stack, sessions: Sessions) -> None:
    retailer, provider, _, installation = await ordered(stack, training=False)
    token, path = installation["tracking_token"], f"/v1/installations/{installation['id']}"
    async with stack.http(provider.key) as field:
        # Days ahead: the reminder is a timer for later, no email now.
        far = {"starts_at": soon(3), "technician": "Sam"}
        assert (await field.post(f"{path}/appointments", json=far)).status_code == 200
        assert await notices(sessions, installation["id"]) == Counter()
        # Within 24 hours: the reminder is due at once.
        starts_at = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
        near = {"starts_at": starts_at, "technician": "Sam"}
        assert (await field.post(f"{path}/appointments", json=near)).status_code == 200
        await wait_for(
            field,
            path,
            lambda b: any(e["event"] == "appointment_reminder" for e in b["timeline"]),
        )
    reminder = await one_email(stack, sessions, installation["id"], "appointment_reminder", token)
    moment = datetime.fromisoformat(starts_at).astimezone(UTC)
    assert f"{long_date(starts_at)} at {moment:%H:%M} UTC" in reminder.body
    assert "installation" in reminder.subject
    async with stack.http(retailer.key) as shop:
        cancelled = await shop.post(f"{path}/cancel", json={"reason": "done testing"})
        assert cancelled.status_code == 200, cancelled.text
    assert (await notices(sessions, installation["id"]))["appointment_reminder"] == 1


async def test_orders_racing_for_one_unit_open_one_installation(stack: Stack) -> None:
    """Distinct orders for one serial sent at once: the database lets one hold the unit;
    every other is 409 `duplicate_open_case`, whether the API's look or the workflow's
    claim refused it."""
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category="dental")
    provider = await make_org(stack, "repair_center")
    body = {
        "asset": {"sku": product["sku"], "serial": f"DC-{uuid.uuid4().hex[:8]}"},
        "provider_org_id": provider.id,
        "site": SITE,
        "customer": customer(),
    }
    async with stack.http(retailer.key) as shop:
        answers = await asyncio.gather(
            *(
                shop.post(
                    "/v1/installations",
                    json=body,
                    headers={"Idempotency-Key": f"race-{n}-{uuid.uuid4().hex[:6]}"},
                )
                for n in range(6)
            )
        )
        codes = Counter(a.status_code for a in answers)
        assert codes == {201: 1, 409: 5}, [a.text for a in answers]
        for refused in (a for a in answers if a.status_code == 409):
            assert_problem(refused, 409, "duplicate_open_case")
        listed = (await shop.get("/v1/installations", params={"limit": 200})).json()["items"]
        assert [i["status"] for i in listed if i["status"] != "cancelled"] == ["scheduling"]
