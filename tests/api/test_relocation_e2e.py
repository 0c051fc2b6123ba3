"""A relocation end to end over HTTP, on SQLite and PostgreSQL, with the real dev server and
worker: the provider books, uninstalls, the carrier moves it, reinstall, commissioning; the
customer reschedules from the tracking endpoint; the certificate verifies; the asset moved."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from io import BytesIO

from pypdf import PdfReader

from tests.api.helpers import add_product, customer, make_org, wait_for
from tests.api.test_foundation import assert_problem
from tests.api.test_rma_e2e import carrier, scan
from tests.documents.barcodes import decode_barcodes
from tests.support import Stack

FROM_SITE = {"line1": "1 Old Lab Road", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"}
TO_SITE = {"line1": "99 New Campus Way", "city": "York", "postal_code": "YO1 7HH", "country": "GB"}
CHECKS = [
    {"item": "Power isolated", "passed": True},
    {"item": "Sample lines drained", "passed": True, "note": "3 L"},
]


def soon(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def test_a_relocation_from_order_to_certificate(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category="lab")
    provider = await make_org(stack, "repair_center")
    stranger = await make_org(stack, "repair_center")
    serial = f"LAB-{uuid.uuid4().hex[:8]}"
    body = {
        "asset": {"sku": product["sku"], "serial": serial},
        "provider_org_id": provider.id,
        "from_site": FROM_SITE,
        "to_site": TO_SITE,
        "customer": customer(),
    }
    async with stack.http(retailer.key) as shop:
        bad = dict(body, provider_org_id=retailer.id)
        assert_problem(await shop.post("/v1/relocations", json=bad), 422, "unknown_provider")
        created = await shop.post("/v1/relocations", json=body)
        assert created.status_code == 201, created.text
        relocation = created.json()
        assert relocation["status"] == "scheduling_uninstall"
        assert relocation["provider_org_id"] == provider.id
        token = relocation["tracking_token"]
        path = f"/v1/relocations/{relocation['id']}"
        asset = (await shop.get(f"/v1/assets/{relocation['asset_id']}")).json()
        assert asset["site"]["line1"] == FROM_SITE["line1"]
        assert_problem(await shop.post("/v1/relocations", json=body), 409, "duplicate_open_case")

    async with stack.http(stranger.key) as other:
        assert_problem(await other.get(path), 404, "not_found")
        appointment = {"stage": "uninstall", "starts_at": soon(3), "technician": "Sam"}
        assert_problem(await other.post(f"{path}/appointments", json=appointment), 404, "not_found")

    async with stack.http(provider.key) as field:
        past = {"stage": "uninstall", "starts_at": soon(-1), "technician": "Sam"}
        assert_problem(
            await field.post(f"{path}/appointments", json=past), 422, "appointment_in_past"
        )
        refused = await field.post(f"{path}/commissioning", json={"checklist": CHECKS})
        assert_problem(refused, 409, "invalid_transition")
        assert refused.json()["current_status"] == "scheduling_uninstall"
        assert refused.json()["allowed"] == ["book_uninstall", "cancel"]

        booked = await field.post(
            f"{path}/appointments",
            json={"stage": "uninstall", "starts_at": soon(3), "technician": "Sam"},
        )
        assert booked.status_code == 200, booked.text
        assert booked.json()["status"] == "uninstall_scheduled"
        assert booked.json()["appointment"]["technician"] == "Sam"
        # The provider's view (api.md "A case is shown per viewer"): no contact details.
        shown = booked.json()["customer"]
        assert shown.keys() == {"name", "address"}
        assert (shown["name"], shown["address"]["line1"]) == ("Ada Lovelace", "12 Analytical Row")

    # The customer asks for another date from the tracking endpoint (twice allowed).
    async with stack.http() as person:
        tracking = (await person.get(f"/v1/track/{token}")).json()
        assert tracking["case_type"] == "relocation"
        assert [a["action"] for a in tracking["actions"]] == ["reschedule_uninstall"]
        backwards = await person.post(
            f"/v1/track/{token}/reschedule",
            json={"stage": "uninstall", "preferred_after": soon(-1)},
        )
        assert_problem(backwards, 422, "preferred_date_in_past")
        moved = await person.post(
            f"/v1/track/{token}/reschedule", json={"stage": "uninstall", "preferred_after": soon(7)}
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == "scheduling_uninstall"

    async with stack.http(provider.key) as field:
        rebooked = await field.post(
            f"{path}/appointments",
            json={"stage": "uninstall", "starts_at": soon(8), "technician": "Sam"},
        )
        assert rebooked.status_code == 200, rebooked.text
        done = await field.post(
            f"{path}/status", json={"status": "uninstalled", "checklist": CHECKS}
        )
        assert done.status_code == 200, done.text
        job = await wait_for(field, path, lambda b: bool(b["shipments"]) and bool(b["documents"]))
        assert job["status"] == "uninstalled"
        transport = job["shipments"][0]
        label = next(d for d in job["documents"] if d["kind"] == "shipping_label")
        pdf = (await field.get(label["url"])).content
        assert transport["tracking_number"] in {text for _, text in decode_barcodes(pdf)}

    assert (
        await carrier(stack, scan(transport["tracking_number"], "picked_up"))
    ).status_code == 200
    async with stack.http(retailer.key) as shop:
        await wait_for(shop, path, lambda b: b["status"] == "in_transit")
        assert_problem(await shop.post(f"{path}/cancel"), 409, "invalid_transition")
    assert (
        await carrier(stack, scan(transport["tracking_number"], "delivered"))
    ).status_code == 200

    async with stack.http(provider.key) as field:
        await wait_for(field, path, lambda b: b["status"] == "delivered")
        step = await field.post(
            f"{path}/appointments",
            json={"stage": "reinstall", "starts_at": soon(10), "technician": "Kim"},
        )
        assert step.status_code == 200 and step.json()["status"] == "reinstall_scheduled", step.text
        step = await field.post(
            f"{path}/status", json={"status": "reinstalled", "checklist": CHECKS}
        )
        assert step.status_code == 200 and step.json()["status"] == "reinstalled", step.text
        failing = [{"item": "Calibration within 0.1%", "passed": False, "note": "0.4%"}]
        step = await field.post(f"{path}/commissioning", json={"checklist": failing})
        assert step.status_code == 200 and step.json()["status"] == "reinstalled", step.text
        passing = [{"item": "Calibration within 0.1%", "passed": True, "note": "0.05%"}]
        step = await field.post(f"{path}/commissioning", json={"checklist": passing})
        assert step.status_code == 200, step.text
        finished = step.json()
        assert finished["status"] == "completed"
        events = [e["event"] for e in finished["timeline"]]
        assert events.index("commissioning_failed") < events.index("commissioned")

    certificate = next(d for d in finished["documents"] if d["kind"] == "relocation_certificate")
    async with stack.http(retailer.key) as shop:
        pdf = (await shop.get(certificate["url"])).content
        text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages)
        assert relocation["id"] in text and TO_SITE["line1"] in text
        assert certificate["verification_code"] in text
        moved_asset = (await shop.get(f"/v1/assets/{relocation['asset_id']}")).json()
        assert moved_asset["site"]["line1"] == TO_SITE["line1"]
        found = (await shop.get("/v1/assets", params={"serial": serial})).json()
        assert [a["id"] for a in found] == [relocation["asset_id"]]
    async with stack.http() as anyone:
        verified = await anyone.get(f"/v1/verify/{certificate['verification_code']}")
        assert verified.status_code == 200, verified.text
        assert verified.json()["kind"] == "relocation_certificate"
        assert verified.json()["case_id"] == relocation["id"]


async def test_reschedule_limit_and_cancel(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category="kiosk")
    provider = await make_org(stack, "repair_center")
    async with stack.http(retailer.key) as shop:
        assert (await shop.put("/v1/policy", json={"max_reschedules": 1})).status_code == 200
        created = await shop.post(
            "/v1/relocations",
            json={
                "asset": {"sku": product["sku"], "serial": f"K-{uuid.uuid4().hex[:8]}"},
                "provider_org_id": provider.id,
                "from_site": FROM_SITE,
                "to_site": TO_SITE,
                "customer": customer(),
            },
        )
        assert created.status_code == 201, created.text
        token = created.json()["tracking_token"]
        path = f"/v1/relocations/{created.json()['id']}"
    appointment = {"stage": "uninstall", "starts_at": soon(4), "technician": "Sam"}
    async with stack.http(provider.key) as field, stack.http() as person:
        assert (await field.post(f"{path}/appointments", json=appointment)).status_code == 200
        first = await person.post(f"/v1/track/{token}/reschedule", json={"stage": "uninstall"})
        assert first.status_code == 200, first.text
        assert (await field.post(f"{path}/appointments", json=appointment)).status_code == 200
        assert (await person.get(f"/v1/track/{token}")).json()["actions"] == []
        second = await person.post(f"/v1/track/{token}/reschedule", json={"stage": "uninstall"})
        assert_problem(second, 409, "reschedule_limit_reached")
        wrong = await person.post(f"/v1/track/{token}/reschedule", json={"stage": "reinstall"})
        assert_problem(wrong, 409, "invalid_transition")
        assert (await field.get(path)).json()["status"] == "uninstall_scheduled"
    async with stack.http(retailer.key) as shop:
        cancelled = await shop.post(f"{path}/cancel", json={"reason": "site not ready"})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"


async def test_an_open_service_plan_follows_the_relocated_unit(stack: Stack) -> None:
    from tests.api.test_plans import plan
    from tests.api.test_repair_e2e import new_center
    from tests.api.test_service_plan_e2e import enrolment

    category = f"lab-{uuid.uuid4().hex[:6]}"
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category=category, warranty_months=3)
    provider = await make_org(stack, "repair_center")
    await new_center(stack, category)  # where a claim's repair is routed
    serial = f"LAB-{uuid.uuid4().hex[:8]}"
    code = f"LABCARE-{uuid.uuid4().hex[:6]}"
    async with stack.http(retailer.key) as shop:
        made = await shop.post("/v1/plans", json=plan(code, waiting_period="PT0S"))
        assert made.status_code == 201, made.text
        enrolled = await shop.post(
            "/v1/service-plans", json=enrolment(code, product["sku"], serial)
        )
        assert enrolled.status_code == 201 and enrolled.json()["status"] == "active"
        plan_id = enrolled.json()["id"]
        created = await shop.post(
            "/v1/relocations",
            json={
                "asset": {"sku": product["sku"], "serial": serial},
                "provider_org_id": provider.id,
                "from_site": FROM_SITE,
                "to_site": TO_SITE,
                "customer": customer(),
            },
        )
        assert created.status_code == 201, created.text
        path = f"/v1/relocations/{created.json()['id']}"

    async with stack.http(provider.key) as field:
        for stage, days in (("uninstall", 3),):
            booked = await field.post(
                f"{path}/appointments",
                json={"stage": stage, "starts_at": soon(days), "technician": "Sam"},
            )
            assert booked.status_code == 200, booked.text
        step = await field.post(
            f"{path}/status", json={"status": "uninstalled", "checklist": CHECKS}
        )
        assert step.status_code == 200, step.text
        job = await wait_for(field, path, lambda b: bool(b["shipments"]))
    tracking = job["shipments"][0]["tracking_number"]
    for status in ("picked_up", "delivered"):
        assert (await carrier(stack, scan(tracking, status))).status_code == 200
    async with stack.http(provider.key) as field:
        await wait_for(field, path, lambda b: b["status"] == "delivered")
        step = await field.post(
            f"{path}/appointments",
            json={"stage": "reinstall", "starts_at": soon(5), "technician": "Kim"},
        )
        assert step.status_code == 200, step.text
        step = await field.post(
            f"{path}/status", json={"status": "reinstalled", "checklist": CHECKS}
        )
        assert step.status_code == 200, step.text
        step = await field.post(f"{path}/commissioning", json={"checklist": CHECKS})
        assert step.status_code == 200 and step.json()["status"] == "completed", step.text
        assert step.json()["service_plan_id"] == plan_id

    async with stack.http(retailer.key) as shop:
        plan_path = f"/v1/service-plans/{plan_id}"
        followed = await wait_for(
            shop,
            plan_path,
            lambda b: any(e["event"] == "asset_relocated" for e in b["timeline"]),
        )
        moved = next(e for e in followed["timeline"] if e["event"] == "asset_relocated")
        assert moved["detail"] == {"relocation_id": created.json()["id"]}
        assert followed["status"] == "active"
        # A claim now collects the unit from where it stands.
        claim = await shop.post(
            f"{plan_path}/claims", json={"type": "repair", "incident": "breakdown"}
        )
        assert claim.json()["decision"] == "approved", claim.text
        repair_path = f"/v1/repairs/{claim.json()['repair_id']}"
        repair = await wait_for(shop, repair_path, lambda b: bool(b.get("documents")))
        assert repair["customer"]["address"]["line1"] == TO_SITE["line1"]
        label = next(d for d in repair["documents"] if d["kind"] == "return_label")
        text = "\n".join(
            p.extract_text()
            for p in PdfReader(BytesIO((await shop.get(label["url"])).content)).pages
        )
        assert TO_SITE["line1"] in text and customer()["address"]["line1"] not in text
