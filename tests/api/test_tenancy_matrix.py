"""The tenancy matrix (#13): every route of the served OpenAPI, its path filled with ids of
one retailer's world (a case of every type, a webhook and its delivery, a product, a plan,
an asset, a document, a key), called with a key of every other kind and organisation and
with none. The answer is 401, 403 or 404: never a 2xx, never a 5xx, never a word of it.

Routes without ids are answered from the caller's own organisation: their lists are read
and must hold nothing of the world; creating ones are only shown to need a key. Routes
public by design are listed below with the reason."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api.helpers import customer
from tests.api.test_plans import plan
from tests.api.world import World
from tests.support import ADMIN_KEY, Stack

# (method, path template) → why anyone may call it without a key of the owner's.
PUBLIC = {
    ("GET", "/healthz"): "liveness for load balancers: says ok or names the failing part",
    ("POST", "/v1/carrier-events"): "the carrier's HMAC signature is the credential",
    ("POST", "/v1/carrier-events/easypost"): "EasyPost's signature is the credential",
    ("POST", "/v1/payment-events/stripe"): "Stripe's signature is the credential",
    ("GET", "/v1/verify/{code}"): "anyone holding a certificate may check it by its code",
    ("GET", "/v1/track/{token}"): "the tracking token is the customer's credential",
    ("POST", "/v1/track/{token}/quote"): "the tracking token is the customer's credential",
    ("POST", "/v1/track/{token}/reschedule"): "the tracking token is the customer's credential",
    ("POST", "/v1/track/{token}/feedback"): "the tracking token is the customer's credential",
    ("POST", "/v1/campaign-offers/{token}"): "the offer link's token is the customer's "
    "credential, as a tracking token is",
    ("GET", "/track/{token}"): "the tracking page: the token is the credential",
    ("POST", "/track/{token}/quote"): "the tracking page's form: the token is the credential",
    ("POST", "/track/{token}/reschedule"): "the tracking page's form: the token is the credential",
    ("POST", "/track/{token}/feedback"): "the tracking page's form: the token is the credential",
    ("GET", "/metrics"): "operational counters, no case data",
    ("GET", "/builtin-gateway/authenticate/{reference}"): "the built-in gateway's stand-in "
    "bank page: the payment's link is the credential, as a bank's is",
    ("POST", "/builtin-gateway/authenticate/{reference}"): "the built-in gateway's stand-in "
    "bank page: the payment's link is the credential, as a bank's is",
}
# Public by design as a family: the return portal and the staff console (session cookies).
PUBLIC_PREFIXES = {
    "/returns/": "the retailer's return portal, for customers without keys",
    "/v1/portal/": "the return portal's API: an order lookup (order_ref + email) is the key",
    "/console/": "the staff console signs people in with a session cookie, not a key",
}

# (method, path template) → the admin may call it on any organisation: it manages keys.
ADMIN_ROUTES = re.compile(r"^/v1/orgs/\{org_id\}(/|$)")

# Beyond 401/403/404, what a route may answer a stranger, and why that shows nothing.
ALSO_ACCEPTED = {
    ("GET", "/v1/inventory/{sku}"): {422},  # unknown_sku: not in the caller's own catalog
    ("PUT", "/v1/inventory/{sku}"): {422},
}


def soon() -> str:
    return (datetime.now(UTC) + timedelta(days=3)).isoformat()


def bodies(world: World) -> dict[tuple[str, str], Any]:
    """A valid body per route that takes one: a refusal must be about who asks, not a 422
    for what was sent."""
    terms = plan(world.plan_code)
    del terms["code"]
    checklist = [{"item": "Power isolated", "passed": True}]
    return {
        ("POST", "/v1/rmas/{rma_id}/reject"): {"reason": "not ours"},
        ("POST", "/v1/rmas/{rma_id}/inspection"): {"grade": "A", "serial_matches": True},
        ("POST", "/v1/repairs/{repair_id}/status"): {"status": "diagnosing"},
        ("POST", "/v1/repairs/{repair_id}/diagnosis"): {
            "fault_code": "E-1",
            "findings": "none",
            "parts": [],
            "labor_minutes": 1,
            "repairable": True,
        },
        ("POST", "/v1/repairs/{repair_id}/qa"): {"passed": True},
        ("PUT", "/v1/inventory/{sku}"): {"quantity": 5},
        ("PUT", "/v1/plans/{code}"): terms,
        ("PUT", "/v1/products/{sku}"): {
            "name": "Renamed",
            "category": "audio",
            "unit_price": {"amount": "1.00", "currency": "USD"},
            "warranty_months": 12,
        },
        ("PUT", "/v1/products/{sku}/troubleshooting"): {"steps": [{"title": "t", "body": "b"}]},
        ("POST", "/v1/relocations/{relocation_id}/appointments"): {
            "stage": "uninstall",
            "starts_at": soon(),
            "technician": "Mallory",
        },
        ("POST", "/v1/relocations/{relocation_id}/status"): {
            "status": "uninstalled",
            "checklist": checklist,
        },
        ("POST", "/v1/relocations/{relocation_id}/commissioning"): {"checklist": checklist},
        ("POST", "/v1/installations/{installation_id}/appointments"): {
            "starts_at": soon(),
            "technician": "Mallory",
        },
        ("POST", "/v1/installations/{installation_id}/status"): {
            "status": "installed",
            "checklist": checklist,
        },
        ("POST", "/v1/installations/{installation_id}/commissioning"): {
            "checklist": checklist,
            "training_given": True,
        },
        ("POST", "/v1/service-plans/{plan_id}/claims"): {
            "type": "repair",
            "incident": "breakdown",
        },
        ("POST", "/v1/service-plans/{plan_id}/payment-method"): {"payment_method": "pm_ok"},
        ("POST", "/v1/service-plans/{plan_id}/transfer"): {"customer": customer("Mallory")},
        ("POST", "/v1/rmas/{rma_id}/waive-restocking-fee"): {"reason": "not ours"},
        # The world's own defaults: were a stranger let through, A would read the same.
        ("PATCH", "/v1/orgs/{org_id}"): {
            "default_locale": "en",
            "default_time_zone": "UTC",
            "paper_size": "Letter",
        },
        ("POST", "/v1/orgs/{org_id}/users"): {
            "email": "mallory@example.com",
            "name": "Mallory",
            "role": "owner",
            "password": "mallory-password",
        },
    }


def path_values(world: World) -> dict[str, str]:
    return {
        "org_id": world.retailer.id,
        "key_id": world.key_id,
        "sku": world.sku,
        "code": world.plan_code,
        "rma_id": world.cases["rma"]["id"],
        "repair_id": world.cases["repair"]["id"],
        "replacement_id": world.cases["replacement"]["id"],
        "relocation_id": world.cases["relocation"]["id"],
        "installation_id": world.cases["installation"]["id"],
        "plan_id": world.cases["service_plan"]["id"],
        "asset_id": world.asset_id,
        "document_id": world.document_id,
        "webhook_id": world.webhook_id,
        "delivery_id": world.delivery_id,
        "campaign_id": world.campaign_id,
        "user_id": world.user_id,
        "order_ref": world.order_ref,
        "feedback_id": world.feedback_id,
    }


@dataclass(frozen=True)
class Caller:
    name: str
    key: str | None


def is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC or any(path.startswith(p) for p in PUBLIC_PREFIXES)


async def test_no_route_answers_another_organisation(stack: Stack, world: World) -> None:
    async with stack.http() as http:
        await walk(http, world)


async def walk(http: httpx.AsyncClient, world: World) -> None:
    spec = (await http.get("/openapi.json")).json()
    values = path_values(world)
    body_of = bodies(world)
    callers = [
        Caller("no key", None),
        Caller("another retailer", world.other_retailer.key),
        Caller("a repair center not working it", world.other_center.key),
        Caller("the admin", ADMIN_KEY),
    ]
    secrets = world.secrets()
    case_ids = [c["id"] for c in world.cases.values()]
    failures: list[str] = []
    walked = 0
    for template, operations in spec["paths"].items():
        for method in (m.upper() for m in operations):
            if is_public(method, template):
                continue
            names = re.findall(r"\{(\w+)\}", template)
            unknown = [n for n in names if n not in values]
            assert not unknown, f"{method} {template}: give the matrix a value for {unknown}"
            path = template.format(**values)
            body = body_of.get((method, template))
            walked += 1
            for caller in callers:
                if caller.name == "the admin" and ADMIN_ROUTES.match(template):
                    continue  # the admin manages every organisation's keys by design
                if not names and method != "GET" and caller.key is not None:
                    continue  # creates in the caller's own organisation, names nothing of A's
                headers = {"Authorization": f"Bearer {caller.key}"} if caller.key else {}
                answer = await http.request(method, path, json=body, headers=headers)
                failure = judge(method, template, names, caller, answer, secrets, case_ids)
                if failure:
                    failures.append(failure)
    assert walked > 40, f"only {walked} routes walked: is the OpenAPI served?"
    assert not failures, "\n".join(failures)


def judge(
    method: str,
    template: str,
    names: list[str],
    caller: Caller,
    answer: httpx.Response,
    secrets: list[str],
    case_ids: list[str],
) -> str | None:
    """What is wrong with this answer to this caller, if anything."""
    where = f"{method} {template} as {caller.name}: {answer.status_code}"
    text = answer.text
    leaked = [s for s in secrets if s in text]
    if leaked:
        return f"{where} shows {leaked}: {text[:300]}"
    if answer.status_code >= 500:
        return f"{where} {text[:300]}"
    if caller.key is None:
        return None if answer.status_code == 401 else f"{where}, expected 401"
    if not names:
        # The caller's own list: nothing of the world's may be in it.
        shown = [c for c in case_ids if c in text]
        return f"{where} lists {shown}" if shown else None
    allowed = {403, 404} | ALSO_ACCEPTED.get((method, template), set())
    if answer.status_code not in allowed:
        return f"{where}, expected one of {sorted(allowed)}: {text[:300]}"
    return None
