"""Bare amounts in request bodies are amounts of a currency the route knows (the
retailer's, the case's) and keep exactly its minor units, as a product's price does: a
JPY plan price, deductible or part of `1234.5` is a 422 `validation_error` naming the
field, and a KWD price keeps its third decimal (real HTTP, real database, real workflows)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from db import models
from tests.api.helpers import add_product, make_org, wait_for
from tests.api.read_model import Sessions
from tests.api.test_foundation import assert_problem
from tests.api.test_plans import plan
from tests.api.test_repair_e2e import new_center, profile, repair_body
from tests.api.test_replacement_e2e import replacement_body
from tests.support import Stack


def refused_at(response: httpx.Response, *field: str | int) -> str:
    """The 422's message, after checking it names `field` of the body."""
    assert_problem(response, 422, "validation_error")
    (error,) = response.json()["errors"]
    assert error["loc"] == ["body", *field], error
    message: str = error["msg"]
    return message


async def in_currency(http: httpx.AsyncClient, currency: str) -> None:
    answer = await http.put("/v1/policy", json={"currency": currency})
    assert answer.status_code == 200, answer.text


async def test_plan_prices_and_deductibles_have_the_catalogs_minor_units(stack: Stack) -> None:
    shop = await make_org(stack, "retailer")
    code = f"CARE-{uuid.uuid4().hex[:6]}"
    yen: dict[str, Any] = {"price": "1234", "deductibles": {"repair": "500"}}
    async with stack.http(shop.key) as http:
        await in_currency(http, "JPY")
        too_fine = await http.post("/v1/plans", json=plan(code, **yen | {"price": "1234.5"}))
        assert "JPY amounts have 0 decimals" in refused_at(too_fine, "price")
        deductible = {"repair": "500", "replacement": "99.5"}
        refused = await http.post("/v1/plans", json=plan(code, **yen | {"deductibles": deductible}))
        assert "JPY" in refused_at(refused, "deductibles", "replacement")
        dollars = {"amount": "9.99", "currency": "USD"}
        other = await http.post("/v1/plans", json=plan(code, **yen | {"price": dollars}))
        assert "not USD" in refused_at(other, "price")
        # Nothing was added by the refusals: the code is still free.
        created = await http.post("/v1/plans", json=plan(code, **yen))
        assert created.status_code == 201, created.text
        assert created.json()["price"] == {"amount": "1234", "currency": "JPY"}
        assert created.json()["deductibles"]["repair"] == {"amount": "500", "currency": "JPY"}

        terms = plan(code, **yen | {"price": {"amount": "1234.5", "currency": "JPY"}})
        del terms["code"]
        replaced = await http.put(f"/v1/plans/{code}", json=terms)
        assert_problem(replaced, 422, "validation_error")
        # The refused terms were not kept.
        kept = await http.get(f"/v1/plans/{code}")
        assert kept.json()["price"] == {"amount": "1234", "currency": "JPY"}

        # Three decimals for KWD, all kept (they were once rounded to two).
        await in_currency(http, "KWD")
        kwd = f"CARE-{uuid.uuid4().hex[:6]}"
        body = plan(kwd, price="9.995", deductibles={"repair": "1.125"})
        dinars = await http.post("/v1/plans", json=body)
        assert dinars.status_code == 201, dinars.text
        assert dinars.json()["price"] == {"amount": "9.995", "currency": "KWD"}
        assert dinars.json()["deductibles"]["repair"] == {"amount": "1.125", "currency": "KWD"}


async def test_a_labour_rate_has_its_currencys_minor_units(stack: Stack) -> None:
    center = await make_org(stack, "repair_center")
    category = f"cat-{uuid.uuid4().hex[:6]}"
    async with stack.http(center.key) as http:
        bare = await http.put("/v1/repair-centers/me", json=profile(category, labor_rate="60.005"))
        assert "USD amounts have 2 decimals" in refused_at(bare, "labor_rate")
        rate = {"amount": "7.125", "currency": "KWD"}
        kept = await http.put("/v1/repair-centers/me", json=profile(category, labor_rate=rate))
        assert kept.status_code == 200, kept.text
        assert kept.json()["labor_rate"] == rate


async def paid_repair_diagnosing(
    http: httpx.AsyncClient, bench: httpx.AsyncClient, sku: str, currency: str
) -> str:
    """A paid repair of `sku` by a retailer working in `currency`, at its center's
    `diagnosing`: the job's path."""
    await in_currency(http, currency)
    repair = await http.post("/v1/repairs", json=repair_body(sku, "paid"))
    assert repair.status_code == 201, repair.text
    path = f"/v1/repairs/{repair.json()['id']}"
    await wait_for(bench, path, lambda b: b.get("status") == "awaiting_unit")
    for status in ("received", "diagnosing"):
        moved = await bench.post(f"{path}/status", json={"status": status})
        assert moved.status_code == 200, moved.text
    return path


async def test_a_diagnosis_prices_parts_in_the_repairs_currency(
    stack: Stack, sessions: Sessions
) -> None:
    category = f"yen-{uuid.uuid4().hex[:6]}"
    shop = await make_org(stack, "retailer")
    center = await new_center(stack, category)
    product = await add_product(stack, shop, price="120.00", category=category)
    async with stack.http(shop.key) as http, stack.http(center.key) as bench:
        path = await paid_repair_diagnosing(http, bench, product["sku"], "JPY")
        part = {"part_no": "P-1", "description": "heater", "quantity": 2, "unit_price": "1234.5"}
        diagnosis = {"fault_code": "E-HEAT", "parts": [part], "labor_minutes": 0}
        diagnosis["repairable"] = True
        refused = await bench.post(f"{path}/diagnosis", json=diagnosis)
        assert "JPY amounts have 0 decimals" in refused_at(refused, "parts", 0, "unit_price")
        part["unit_price"] = "1234"
        quoted = await bench.post(f"{path}/diagnosis", json=diagnosis)
        assert quoted.status_code == 200, quoted.text
        done = await wait_for(http, path, lambda b: b.get("quote") is not None)
        assert done["quote"]["parts_total"] == {"amount": "2468", "currency": "JPY"}
        assert done["diagnosis"]["parts"][0]["unit_price"] == "1234"

        # A row its workflow wrote before its facts said their currency has hundredths
        # ("2468.00" yen): the API still answers in whole yen.
        async with sessions.begin() as session:
            row = await session.scalar(select(models.Case).where(models.Case.id == done["id"]))
            assert row is not None and row.data["currency"] == "JPY"
            data = {k: v for k, v in row.data.items() if k != "currency"}
            data["quote"] = {**data["quote"], "parts_total": "2468.00", "total": "2468.00"}
            (stored_part,) = data["diagnosis"]["parts"]
            data["diagnosis"] = {
                **data["diagnosis"],
                "parts": [stored_part | {"unit_price": "1234.00"}],
            }
            row.data = data
        old = (await http.get(path)).json()
        assert old["quote"]["total"] == {"amount": "2468", "currency": "JPY"}
        assert old["diagnosis"]["parts"][0]["unit_price"] == "1234"


async def test_a_kwd_quote_and_its_parts_keep_their_third_decimal(stack: Stack) -> None:
    # 7 minutes at 7.125 KWD an hour is 0.83125: 0.831 dinar, stored and shown (it was
    # once stored as "0.83" and shown as 0.830, and a 1.125 part as "1.12").
    category = f"kwd-{uuid.uuid4().hex[:6]}"
    shop = await make_org(stack, "retailer")
    rate = {"amount": "7.125", "currency": "KWD"}
    center = await new_center(stack, category, labor_rate=rate)
    product = await add_product(stack, shop, price="120.00", category=category)
    async with stack.http(shop.key) as http, stack.http(center.key) as bench:
        path = await paid_repair_diagnosing(http, bench, product["sku"], "KWD")
        part = {"part_no": "P-7", "description": "hinge", "quantity": 1, "unit_price": "1.125"}
        body = {"fault_code": "E-HINGE", "parts": [part], "labor_minutes": 7, "repairable": True}
        quoted = await bench.post(f"{path}/diagnosis", json=body)
        assert quoted.status_code == 200, quoted.text

        done = await wait_for(http, path, lambda b: b.get("quote") is not None)
        quote = done["quote"]
        assert [quote[k] for k in ("parts_total", "labor_total", "total")] == [
            {"amount": "1.125", "currency": "KWD"},
            {"amount": "0.831", "currency": "KWD"},
            {"amount": "1.956", "currency": "KWD"},
        ]
        assert done["diagnosis"]["parts"][0]["unit_price"] == "1.125"
        # The timeline says the same total.
        (quoted_entry,) = [e for e in done["timeline"] if e["event"] == "quoted"]
        assert quoted_entry["detail"]["amount"] == "1.956"


async def test_a_kwd_deposit_hold_keeps_its_third_decimal(stack: Stack, sessions: Sessions) -> None:
    # An advance exchange holds the unit's price: 1.125 dinar, stored and shown so (it was
    # once stored as "1.12" and shown as 1.120).
    shop = await make_org(stack, "retailer")
    sku = f"KWD-{uuid.uuid4().hex[:8]}"
    async with stack.http(shop.key) as http:
        await in_currency(http, "KWD")
        product = {
            "sku": sku,
            "name": "Lamp",
            "category": "home",
            "unit_price": {"amount": "1.125", "currency": "KWD"},
            "warranty_months": 12,
        }
        added = await http.post("/v1/products", json=product)
        assert added.status_code == 201, added.text
        stocked = await http.put(f"/v1/inventory/{sku}", json={"quantity": 1})
        assert stocked.status_code == 200, stocked.text
        body = replacement_body(sku, mode="advance", payment_method="pm_ok")
        created = await http.post("/v1/replacements", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["hold"]["amount"] == {"amount": "1.125", "currency": "KWD"}
        path = f"/v1/replacements/{created.json()['id']}"
        shown = (await http.get(path)).json()
        assert shown["hold"]["amount"] == {"amount": "1.125", "currency": "KWD"}

    async with sessions() as session:
        row = await session.scalar(select(models.Case).where(models.Case.id == shown["id"]))
        assert row is not None
        assert (row.data["hold"]["amount"], row.data["currency"]) == ("1.125", "KWD")
