"""Every create and command body, walked field by field with values no column can hold:
over-long strings, control characters, absurd durations, dates and numbers. Each is a 422
`validation_error` naming the field, and no case is created or changed (#13 item 2).

The fields come from the OpenAPI schema the app serves (itself made from the pydantic
models), so a field added later is walked without editing this test; only a new body needs
a valid example below, and the test fails until it has one."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from api.routes.carrier_events import CarrierEventIn
from tests.api.helpers import Org, add_product, customer, make_org
from tests.support import ADMIN_KEY, CARRIER_SECRET, Stack, signed_event

CONTROL = ("\x00", "\x1f", "\x7f")
TOO_LONG_DURATION = "P3000000D"
ABSURD_MOMENTS = ("9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z")
HUGE_AMOUNT = "1" + "0" * 20
# Not a body but an input all the same: the HTML forms of the tracking page are tested with
# the page (tests/api/test_tracking_page.py), the built-in gateway's bank page with it
# (tests/api/test_payment_authentication_e2e.py).
FORM_BODIES = {
    ("post", "/track/{token}/quote"),
    ("post", "/track/{token}/reschedule"),
    ("post", "/track/{token}/feedback"),
    ("post", "/builtin-gateway/authenticate/{reference}"),
    # The return portal's pages post forms that carry what its JSON API's bodies carry (the
    # portal API's bodies are walked here).
    ("post", "/returns/{slug}/lookup"),
    ("post", "/returns/{slug}/items/{line_id}/fixed"),
    ("post", "/returns/{slug}/items/{line_id}/return"),
}
# Bodies the sender signs: walked with a valid signature below, so that the refusal is the
# body's and not the signature's.
SIGNED_BODIES = {("post", "/v1/carrier-events")}


def moment(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat().replace("+00:00", "Z")


@dataclass
class Mutation:
    path: tuple[str | int, ...]
    value: Any
    what: str


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
    return schema


def _variant(spec: dict[str, Any], schema: dict[str, Any], value: Any) -> dict[str, Any] | None:
    """The branch of a union the example's value takes (an object, a string, a number)."""
    schema = _resolve(spec, schema)
    if "anyOf" not in schema:
        return schema
    for option in schema["anyOf"]:
        option = _resolve(spec, option)
        kind = option.get("type")
        if (
            (isinstance(value, dict) and (kind == "object" or "properties" in option))
            or (isinstance(value, list) and kind == "array")
            or (isinstance(value, str) and kind == "string")
            or (isinstance(value, int | float) and kind in ("number", "integer"))
        ):
            return option
    return None


def mutations(
    spec: dict[str, Any], schema: dict[str, Any], example: Any, path: tuple[str | int, ...] = ()
) -> Iterator[Mutation]:
    """Every bad value for every leaf of `example` and every property the schema declares."""
    node = _variant(spec, schema, example)
    if node is None:
        return
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        for name, sub in node.get("properties", {}).items():
            if isinstance(example, dict) and name in example:
                yield from mutations(spec, sub, example[name], (*path, name))
            else:
                # A field the example leaves out: its default is not enough, walk it too.
                leaf = _resolve(spec, sub)
                if leaf.get("type") in ("string", "integer") or "anyOf" in leaf:
                    yield from mutations(spec, sub, _placeholder(spec, leaf), (*path, name))
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and isinstance(example, dict):
            for key, value in example.items():
                yield from mutations(spec, extra, value, (*path, key))
    elif kind == "array":
        if isinstance(example, list) and example:
            yield from mutations(spec, node.get("items", {}), example[0], (*path, 0))
    elif kind == "string":
        base = example if isinstance(example, str) and example else "ab"
        for char in CONTROL:
            middle = len(base) // 2
            yield Mutation(path, base[:middle] + char + base[middle:], f"U+{ord(char):04X}")
        if "maxLength" in node:
            length = node["maxLength"] + 1
            if node.get("format") == "uri":
                too_long = "https://example.com/" + "x" * length
            else:
                too_long = "x" * length
            yield Mutation(path, too_long, f"{length} characters")
        if node.get("format") == "duration":
            yield Mutation(path, TOO_LONG_DURATION, TOO_LONG_DURATION)
        if node.get("format") == "date-time":
            for absurd in ABSURD_MOMENTS:
                yield Mutation(path, absurd, absurd)
        if "pattern" in node and "^-?\\d" in node["pattern"]:
            yield Mutation(path, HUGE_AMOUNT, "a huge amount")
    elif kind in ("integer", "number"):
        if "maximum" in node:
            yield Mutation(path, node["maximum"] + 1, "over the maximum")
        elif "exclusiveMaximum" in node:
            yield Mutation(path, node["exclusiveMaximum"], "at the exclusive maximum")
        else:
            yield Mutation(path, 2**63, "beyond 64 bits")
        if kind == "number":
            yield Mutation(path, float(HUGE_AMOUNT), "a huge amount")


def _placeholder(spec: dict[str, Any], leaf: dict[str, Any]) -> Any:
    if "anyOf" in leaf:
        for option in leaf["anyOf"]:
            option = _resolve(spec, option)
            if option.get("type") in ("string", "integer"):
                return _placeholder(spec, option)
        return None
    return "ab" if leaf.get("type") == "string" else 1


def mutated(example: Any, mutation: Mutation) -> Any:
    body = copy.deepcopy(example)
    target = body
    for step in mutation.path[:-1]:
        target = target[step]
    target[mutation.path[-1]] = mutation.value
    return body


def assert_refused(response: httpx.Response, mutation: Mutation, where: str) -> None:
    context = f"{where} {'.'.join(map(str, mutation.path))} = {mutation.what}"
    assert response.status_code == 422, f"{context}: {response.status_code} {response.text}"
    problem = response.json()
    assert problem["code"] == "validation_error", f"{context}: {problem}"
    named = {str(part) for error in problem.get("errors", []) for part in error["loc"]}
    assert str(mutation.path[-1]) in named, f"{context}: the field is not named: {problem}"


# ------------------------------------------------------------------------- the world


@dataclass
class World:
    retailer: Org
    center: Org
    sku: str
    rma_id: str
    token: str


async def world(stack: Stack) -> World:
    retailer = await make_org(stack, "retailer")
    center = await make_org(stack, "repair_center")
    product = await add_product(stack, retailer)
    async with stack.http(retailer.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(product["sku"]))
    assert created.status_code == 201, created.text
    rma = created.json()
    # Settled first (its label booked), so that a later change can only be the walk's.
    async with stack.http(retailer.key) as http:
        for _ in range(200):
            shown = (await http.get(f"/v1/rmas/{rma['id']}")).json()
            if any(entry["event"] == "label_created" for entry in shown["timeline"]):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"no label for {rma['id']}")
    return World(retailer, center, product["sku"], rma["id"], rma["tracking_token"])


def rma_body(sku: str) -> dict[str, Any]:
    return {
        "order_ref": "SO-1001",
        "purchased_at": moment(-3),
        "customer": customer(),
        "items": [
            {
                "sku": sku,
                "serial": f"SN-{uuid.uuid4().hex[:8]}",
                "quantity": 1,
                "reason": "defective",
                "notes": "rattles\nwhen shaken",
            }
        ],
        "resolution": "refund",
    }


def examples(w: World) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """A valid body for every operation that takes one, and the key that may send it."""
    retailer, center, admin = w.retailer.key, w.center.key, ADMIN_KEY
    address = customer()["address"] | {
        "line2": "Flat 2",
        "region": "Greater London",
        "name": "Front desk",
    }
    person = customer() | {"address": address}
    unit = {"sku": w.sku, "serial": "SN-WALK-1", "purchased_at": moment(-100)}
    money = {"amount": "10.00", "currency": "USD"}
    return {
        ("post", "/v1/orgs"): (admin, {"name": "Walked Org", "kind": "retailer"}),
        # The world's own defaults, so that the walk's valid body changes nothing it reads.
        ("patch", "/v1/orgs/{org_id}"): (
            retailer,
            {"default_locale": "en", "default_time_zone": "UTC", "paper_size": "Letter"},
        ),
        ("post", "/v1/orgs/{org_id}/users"): (
            retailer,
            {
                "email": "walker@example.com",
                "name": "Walker",
                "role": "staff",
                "password": "walk-password-1",
            },
        ),
        ("put", "/v1/policy"): (
            retailer,
            {
                "return_window": "P30D",
                "review_threshold": "1000.00",
                "review_timeout": "P7D",
                "return_ship_by": "P14D",
                "restocking_fee_percent": 15,
                "quote_valid_for": "P14D",
                "repair_turnaround": "P5D",
                "backorder_max": "P14D",
                "core_return_within": "P30D",
                "max_reschedules": 2,
                "dunning": ["P1D", "P3D"],
                "grace_period": "P14D",
                "currency": "USD",
                "repair_warranty": "P90D",
                "return_address": address,
            },
        ),
        ("post", "/v1/products"): (
            retailer,
            {
                "sku": "SKU-WALK",
                "name": "Walker",
                "category": "audio",
                "unit_price": money,
                "warranty_months": 12,
            },
        ),
        ("put", "/v1/products/{sku}"): (
            retailer,
            {
                "name": "Walker",
                "category": "audio",
                "unit_price": money,
                "warranty_months": 12,
                "weight_grams": 1200,
                "dimensions_cm": {"length": 30, "width": 20, "height": 10.5},
            },
        ),
        # The built-in provider, so that nothing the walk sends could reach a real one.
        ("put", "/v1/integrations/carrier"): (
            retailer,
            {
                "provider": "builtin",
                "api_key": "EZTK-walk-key",
                "webhook_secret": "walk-hook-secret",
                "services": ["Ground"],
            },
        ),
        ("put", "/v1/integrations/payments"): (
            retailer,
            {
                "provider": "builtin",
                "secret_key": "sk_test_walk",
                "webhook_secret": "whsec_walk",
            },
        ),
        ("post", "/v1/plans"): (retailer, plan_terms() | {"code": "WALK"}),
        ("put", "/v1/plans/{code}"): (retailer, plan_terms()),
        ("put", "/v1/repair-centers/me"): (
            center,
            {
                "categories": ["audio"],
                "regions": ["GB"],
                "daily_capacity": 5,
                "labor_rate": money,
                "address": address,
            },
        ),
        ("put", "/v1/repair-network"): (retailer, {"centers": [w.center.id]}),
        ("post", "/v1/rmas"): (retailer, rma_body(w.sku)),
        ("post", "/v1/rmas/{rma_id}/reject"): (retailer, {"reason": "not_ours"}),
        ("post", "/v1/rmas/{rma_id}/cancel"): (retailer, {"reason": "changed_mind"}),
        ("post", "/v1/rmas/{rma_id}/retry-shipping"): (retailer, {"address": address}),
        ("post", "/v1/rmas/{rma_id}/waive-restocking-fee"): (retailer, {"reason": "goodwill"}),
        ("post", "/v1/rmas/{rma_id}/receive"): (retailer, {"note": "box dented"}),
        ("post", "/v1/rmas/{rma_id}/inspection"): (
            retailer,
            {"grade": "A", "serial_matches": True, "notes": "as new"},
        ),
        ("post", "/v1/repairs"): (
            retailer,
            {"unit": unit, "fault": "no sound", "customer": person, "coverage": "paid"},
        ),
        ("post", "/v1/repairs/{repair_id}/status"): (
            center,
            {"status": "diagnosing", "note": "on the bench"},
        ),
        ("post", "/v1/repairs/{repair_id}/diagnosis"): (
            center,
            {
                "fault_code": "AMP-1",
                "findings": "blown amp",
                "parts": [
                    {"part_no": "P-1", "description": "amp", "quantity": 1, "unit_price": money}
                ],
                "labor_minutes": 30,
                "repairable": True,
            },
        ),
        ("post", "/v1/repairs/{repair_id}/qa"): (center, {"passed": True, "notes": "fine"}),
        ("post", "/v1/repairs/{repair_id}/cancel"): (retailer, {"reason": "gave up"}),
        ("post", "/v1/repairs/{repair_id}/retry-shipping"): (retailer, {"address": address}),
        ("put", "/v1/inventory/{sku}"): (retailer, {"quantity": 3}),
        ("post", "/v1/replacements"): (
            retailer,
            {
                "mode": "advance",
                "unit": {"sku": w.sku, "serial": "SN-WALK-2"},
                "replacement_sku": w.sku,
                "customer": person,
                "payment_method": "pm_ok",
            },
        ),
        ("post", "/v1/replacements/{replacement_id}/core-received"): (
            retailer,
            {"note": "arrived"},
        ),
        ("post", "/v1/replacements/{replacement_id}/cancel"): (retailer, {"reason": "no"}),
        ("post", "/v1/replacements/{replacement_id}/retry-shipping"): (
            retailer,
            {"address": address},
        ),
        ("post", "/v1/relocations"): (
            retailer,
            {
                "asset": {"sku": w.sku, "serial": "SN-WALK-3"},
                "provider_org_id": w.center.id,
                "from_site": address,
                "to_site": address,
                "customer": person,
            },
        ),
        ("post", "/v1/relocations/{relocation_id}/appointments"): (
            center,
            {"stage": "uninstall", "starts_at": moment(3), "technician": "Sam"},
        ),
        ("post", "/v1/relocations/{relocation_id}/status"): (
            center,
            {
                "status": "uninstalled",
                "checklist": [{"item": "unplugged", "passed": True, "note": "ok"}],
            },
        ),
        ("post", "/v1/relocations/{relocation_id}/commissioning"): (
            center,
            {"checklist": [{"item": "powers on", "passed": True, "note": "ok"}]},
        ),
        ("post", "/v1/relocations/{relocation_id}/cancel"): (retailer, {"reason": "moved"}),
        ("post", "/v1/relocations/{relocation_id}/retry-shipping"): (
            retailer,
            {"address": address},
        ),
        ("post", "/v1/installations"): (
            retailer,
            {
                "asset": {"sku": w.sku, "serial": "SN-WALK-5"},
                "provider_org_id": w.center.id,
                "site": address,
                "customer": person,
                "training": True,
            },
        ),
        ("post", "/v1/installations/{installation_id}/appointments"): (
            center,
            {"starts_at": moment(3), "technician": "Sam"},
        ),
        ("post", "/v1/installations/{installation_id}/status"): (
            center,
            {
                "status": "installed",
                "checklist": [{"item": "mounted", "passed": True, "note": "ok"}],
            },
        ),
        ("post", "/v1/installations/{installation_id}/commissioning"): (
            center,
            {
                "checklist": [{"item": "powers on", "passed": True, "note": "ok"}],
                "training_given": True,
            },
        ),
        ("post", "/v1/installations/{installation_id}/cancel"): (retailer, {"reason": "moved"}),
        ("post", "/v1/service-plans"): (
            retailer,
            {"plan_code": "WALK", "unit": unit, "customer": person, "payment_method": "pm_ok"},
        ),
        ("post", "/v1/service-plans/{plan_id}/claims"): (
            retailer,
            {"type": "repair", "incident": "accidental_damage", "description": "dropped"},
        ),
        ("post", "/v1/service-plans/{plan_id}/payment-method"): (
            retailer,
            {"payment_method": "pm_ok"},
        ),
        ("post", "/v1/service-plans/{plan_id}/cancel"): (retailer, {"reason": "sold it"}),
        ("post", "/v1/service-plans/{plan_id}/transfer"): (retailer, {"customer": person}),
        ("post", "/v1/track/{token}/quote"): ("", {"approve": True}),
        ("post", "/v1/track/{token}/reschedule"): (
            "",
            {"stage": "uninstall", "preferred_after": moment(10)},
        ),
        ("post", "/v1/webhooks"): (
            retailer,
            {"url": "https://hooks.example.com/aftersales", "events": ["rma.*"]},
        ),
        ("post", "/v1/track/{token}/feedback"): ("", {"rating": 4, "comment": "fine"}),
        ("post", "/v1/campaigns"): (
            retailer,
            {
                "name": "Walk recall",
                "sku": w.sku,
                "serial_prefix": "WALK",
                "purchased_from": moment(-30),
                "purchased_to": moment(-1),
                "subject": "A recall",
                "message": "Please read",
                "offer": "repair",
            },
        ),
        ("post", "/v1/campaign-offers/{token}"): ("", {"fault": "leaks"}),
        ("post", "/v1/orders"): (
            retailer,
            {
                "order_ref": "SO-WALK",
                "placed_at": moment(-3),
                "customer": person,
                "lines": [{"sku": w.sku, "serial": "SN-WALK-6", "quantity": 1}],
            },
        ),
        ("put", "/v1/products/{sku}/troubleshooting"): (
            retailer,
            {"steps": [{"title": "Restart it", "body": "Hold the power button"}]},
        ),
        # The portal's bodies are refused before its shop or lookup is read.
        ("post", "/v1/portal/{org_slug}/lookup"): (
            "",
            {"order_ref": "SO-WALK", "email": "ada@example.com"},
        ),
        ("post", "/v1/portal/{org_slug}/deflections"): (
            "",
            {"lookup_token": "walk-lookup", "sku": w.sku, "serial": "SN-WALK-7", "step": 1},
        ),
        ("post", "/v1/portal/{org_slug}/returns"): (
            "",
            {
                "lookup_token": "walk-lookup",
                "sku": w.sku,
                "serial": "SN-WALK-7",
                "reason": "defective",
                "resolution": "refund",
                "notes": "rattles",
            },
        ),
    }


def plan_terms() -> dict[str, Any]:
    return {
        "name": "Walk Care",
        "term_months": 12,
        "billing_period": "monthly",
        "price": {"amount": "5.00", "currency": "USD"},
        "claim_limit": 2,
        "deductibles": {"repair": {"amount": "20.00", "currency": "USD"}},
        "waiting_period": "P7D",
        "incidents": ["accidental_damage"],
        "cancel_full_refund_within": "P30D",
        "auto_renew": True,
        "renewal_notice": "P30D",
    }


def concrete(path: str, w: World) -> str:
    """The path with its parameters filled: the RMA is real (so it can be seen unchanged);
    the other cases need not exist, since a body is refused before a case is looked up."""
    return (
        path.replace("{rma_id}", w.rma_id)
        .replace("{org_id}", w.retailer.id)
        .replace("{token}", w.token)
        .replace("{code}", "WALK")
        .replace("{sku}", w.sku)
        .replace("{repair_id}", "REP-2026-WALKWALK")
        .replace("{replacement_id}", "RPL-2026-WALKWALK")
        .replace("{relocation_id}", "REL-2026-WALKWALK")
        .replace("{installation_id}", "INS-2026-WALKWALK")
        .replace("{plan_id}", "SP-2026-WALKWALK")
        .replace("{org_slug}", "walk-shop")
    )


async def cases(stack: Stack, key: str) -> dict[str, tuple[str, str, int]]:
    """Every case the retailer has: status, updated_at and timeline length by id."""
    seen: dict[str, tuple[str, str, int]] = {}
    async with stack.http(key) as http:
        kinds = ("rmas", "repairs", "replacements", "relocations", "installations", "service-plans")
        for kind in kinds:
            listed = await http.get(f"/v1/{kind}", params={"limit": 200})
            assert listed.status_code == 200, listed.text
            for case in listed.json()["items"]:
                seen[case["id"]] = (case["status"], case["updated_at"], len(case["timeline"]))
    return seen


# ------------------------------------------------------------------------- the walk


async def test_every_body_refuses_values_no_column_can_hold(stack: Stack) -> None:
    w = await world(stack)
    async with stack.http() as http:
        spec = (await http.get("/openapi.json")).json()
    bodies = examples(w)
    before = await cases(stack, w.retailer.key)

    walked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "requestBody" not in operation or (method, path) in FORM_BODIES | SIGNED_BODIES:
                continue
            assert (method, path) in bodies, f"no valid example for {method.upper()} {path}"
            key, example = bodies[(method, path)]
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            async with stack.http(key or None) as client:
                for mutation in mutations(spec, schema, example):
                    response = await client.request(
                        method, concrete(path, w), json=mutated(example, mutation)
                    )
                    assert_refused(response, mutation, f"{method.upper()} {path}")
                    walked += 1
    assert walked > 500, walked

    after = await cases(stack, w.retailer.key)
    assert after == before, "a refused body created or changed a case"


async def test_carrier_events_refuse_values_no_column_can_hold(stack: Stack) -> None:
    # Signed with the carrier's secret, so the refusal is the body's, not the signature's.
    example = {
        "event_id": "evt-walk",
        "tracking_number": "1ZWALK",
        "status": "in_transit",
        "occurred_at": moment(0),
        "location": "Depot",
    }
    schema = CarrierEventIn.model_json_schema(ref_template="#/components/schemas/{model}")
    spec = {"components": {"schemas": schema.pop("$defs", {})}}
    walked = 0
    async with stack.http() as http:
        for mutation in mutations(spec, schema, example):
            raw, headers = signed_event(CARRIER_SECRET, mutated(example, mutation))
            response = await http.post("/v1/carrier-events", content=raw, headers=headers)
            assert_refused(response, mutation, "POST /v1/carrier-events")
            walked += 1
    assert walked >= 15, walked


async def test_headers_and_query_strings_refuse_control_characters(stack: Stack) -> None:
    w = await world(stack)
    before = await cases(stack, w.retailer.key)
    async with stack.http(w.retailer.key) as http:
        # A tab is the one control character HTTP lets through in a header value.
        for key in ("walk\tkey", "k" * 201):
            created = await http.post(
                "/v1/rmas", json=rma_body(w.sku), headers={"Idempotency-Key": key}
            )
            assert created.status_code == 422, created.text
            assert created.json()["code"] == "validation_error"
            assert "Idempotency-Key" in str(created.json()["errors"])
            cancelled = await http.post(
                f"/v1/rmas/{w.rma_id}/cancel", json={}, headers={"Idempotency-Key": key}
            )
            assert cancelled.status_code == 422, cancelled.text
        for params in (
            {"serial": "SN\x00"},
            {"serial": "S" * 101},
            {"serial": "SN", "sku": "\x7f"},
        ):
            found = await http.get("/v1/assets", params=params)
            assert found.status_code == 422, found.text
            assert found.json()["code"] == "validation_error"
        listed = await http.get("/v1/service-plans", params={"status": "active\x00"})
        assert listed.status_code == 422, listed.text
    assert await cases(stack, w.retailer.key) == before


# --------------------------------------------------------- the longest accepted values

# Values that name something that must exist (a catalog SKU, an organisation, a plan) keep
# their example: the point is what is stored, not what is looked up.
REFERENCES = {"sku", "replacement_sku", "provider_org_id", "plan_code", "country", "currency"}
CREATES = (
    "/v1/rmas",
    "/v1/repairs",
    "/v1/relocations",
    "/v1/installations",
    "/v1/replacements",
    "/v1/service-plans",
)


def longest(spec: dict[str, Any], schema: dict[str, Any], example: Any, name: str = "") -> Any:
    """`example` with every free string as long as the schema lets it be."""
    node = _variant(spec, schema, example)
    if node is None:
        return example
    if isinstance(example, dict) and (node.get("type") == "object" or "properties" in node):
        properties = node.get("properties", {})
        return {
            key: longest(spec, properties[key], value, key) if key in properties else value
            for key, value in example.items()
        }
    if isinstance(example, list) and node.get("type") == "array":
        return [longest(spec, node.get("items", {}), item, name) for item in example]
    if isinstance(example, str) and node.get("type") == "string" and name not in REFERENCES:
        if node.get("format") or "enum" in node:
            return example
        assert "maxLength" in node, f"{name} is a string without a maximum length"
        length = node["maxLength"]
        if "@" in node.get("pattern", ""):
            return "a" * (length - len("@example.com")) + "@example.com"
        # Unique, so that cases of one unit do not refuse each other.
        return (uuid.uuid4().hex + "x" * length)[:length]
    return example


async def test_the_longest_accepted_values_are_stored_not_wedged(stack: Stack) -> None:
    """On PostgreSQL a value longer than its column used to wedge the case's workflow (503
    `decision_pending` for ever); every limit the API accepts must fit where it is kept."""
    w = await world(stack)
    async with stack.http() as http:
        spec = (await http.get("/openapi.json")).json()
    bodies = examples(w)
    async with stack.http(w.retailer.key) as http:
        plan = await http.post("/v1/plans", json=bodies[("post", "/v1/plans")][1])
        assert plan.status_code == 201, plan.text
        for path in CREATES:
            _, example = bodies[("post", path)]
            schema = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
            body = longest(spec, schema["schema"], example)
            created = await http.post(path, json=body)
            assert created.status_code == 201, f"{path}: {created.status_code} {created.text}"
            case = created.json()
            shown = await http.get(f"{path}/{case['id']}")
            assert shown.status_code == 200, shown.text
            assert shown.json()["customer"]["email"] == body["customer"]["email"]
        # A refusal's reason is kept on the case too.
        reason = longest(spec, {"$ref": "#/components/schemas/CancelBody"}, {"reason": "x"})
        cancelled = await http.post(f"/v1/rmas/{w.rma_id}/cancel", json=reason)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert cancelled.json()["reason"] == reason["reason"]
