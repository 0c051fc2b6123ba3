"""Insight over a known read model, on SQLite and PostgreSQL through the real API: every
figure of GET /v1/insights/products by sku, category and repair center, all time and over a
period, the fault codes, CSV of an insight and of a list, and who may read them.

The cases are written straight into the read model (what projections write, typed columns
included): the figures are aggregates over it, and a known set makes each one exact."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.helpers import Org, add_product, make_org
from tests.api.insight_rows import Writer, at, write
from tests.support import Stack

pytestmark = pytest.mark.e2e


@dataclass
class Shop:
    retailer: Org
    other: Org
    center: Org
    sku_a: str
    sku_b: str
    sku_c: str
    repairs: dict[str, str]


@pytest.fixture(scope="module")
async def shop(stack: Stack) -> AsyncIterator[Shop]:
    retailer = await make_org(stack, "retailer")
    other = await make_org(stack, "retailer")
    center = await make_org(stack, "repair_center")
    tag = uuid.uuid4().hex[:6].upper()
    sku_a, sku_b, sku_c = f"A-{tag}", f"B-{tag}", f"C-{tag}"
    for sku, category in ((sku_a, "audio"), (sku_b, "audio"), (sku_c, "video")):
        await add_product(stack, retailer, sku=sku, category=category)
    w = Writer(retailer.id)
    w.order("2025-06-01T00:00:00", [(sku_a, 5)])
    w.order("2026-01-10T00:00:00", [(sku_a, 3), (sku_b, 1)])
    w.order("2026-01-11T00:00:00", [(sku_a, 2), (sku_c, 4)])
    # Two units of A in one RMA: the RMA counts once.
    two_units = [(sku_a, "a1", "defective"), (sku_a, "a2", "defective")]
    rma1 = w.case("rma", "2026-02-01T00:00:00", two_units)
    w.case("rma", "2026-02-02T00:00:00", [(sku_a, "a3", "changed_mind")], coverage="goodwill")
    w.case("rma", "2026-02-03T00:00:00", [(sku_b, "b1", "defective"), (sku_c, "c1", "damaged")])
    w.case("rma", "2025-06-10T00:00:00", [(sku_a, "a0", "defective")])
    repair = {"receiving_org_id": center.id}
    # s1 comes back 30 days after it was shipped; s2 after 100 (a first-time fix).
    rep1 = w.case(
        "repair", "2026-01-25T00:00:00", [(sku_a, "s1", "repair")], **repair,
        coverage="warranty", received_at=at("2026-02-01T00:00:00"),
        shipped_at=at("2026-02-01T10:00:00"), fault_code="F1",
    )  # fmt: skip
    rep2 = w.case(
        "repair", "2026-03-03T10:00:00", [(sku_a, "s1", "repair")], **repair,
        coverage="warranty", received_at=at("2026-03-05T00:00:00"),
        shipped_at=at("2026-03-05T20:00:00"), fault_code="F1", sla_breached=True,
    )  # fmt: skip
    rep3 = w.case(
        "repair", "2026-01-20T00:00:00", [(sku_a, "s2", "repair")], **repair,
        coverage="service_plan", received_at=at("2026-02-02T00:00:00"),
        shipped_at=at("2026-02-03T06:00:00"), fault_code="F2",
    )  # fmt: skip
    rep4 = w.case(
        "repair", "2026-05-14T06:00:00", [(sku_a, "s2", "repair")], **repair,
        coverage="paid", received_at=at("2026-05-20T00:00:00"),
    )  # fmt: skip
    w.case(
        "replacement", "2026-02-10T00:00:00", [(sku_b, "b9", "replacement")],
        coverage="service_plan",
    )  # fmt: skip
    w.feedback(rma1, "rma", 5)
    w.feedback(rep1, "repair", 2)
    w.feedback(rep2, "repair", 4)
    w.deflection(sku_a, "2026-03-01T00:00:00")
    w.deflection(sku_a, "2026-03-02T00:00:00")
    w.deflection(sku_c, "2026-03-03T00:00:00")
    # Another retailer's cases of the same skus count for it alone.
    o = Writer(other.id)
    o.order("2026-01-10T00:00:00", [(sku_a, 100)])
    o.case("rma", "2026-02-01T00:00:00", [(sku_a, "x1", "defective")])
    o.case(
        "repair", "2026-02-01T00:00:00", [(sku_a, "s1", "repair")], receiving_org_id=center.id,
        received_at=at("2026-02-01T00:00:00"), shipped_at=at("2026-02-01T01:00:00"),
        fault_code="F1",
    )  # fmt: skip
    await write(stack.settings.database_url, w, o)
    yield Shop(
        retailer, other, center, sku_a, sku_b, sku_c,
        {"rep1": rep1, "rep2": rep2, "rep3": rep3, "rep4": rep4},
    )  # fmt: skip


EMPTY: dict[str, Any] = {
    "sold": 0,
    "rmas": 0,
    "return_rate": None,
    "reasons": {},
    "deflected": 0,
    "repairs": 0,
    "first_time_fix_rate": None,
    "turnaround_p50_hours": None,
    "turnaround_p90_hours": None,
    "sla_breaches": 0,
    "replacements": 0,
    "plan_claims": 0,
    "goodwill": 0,
    "csat_avg": None,
    "feedback_count": 0,
}
# Repairs of A: 4, three shipped (10 h, 30 h, 20 h), s1's first came back: 2 of 3 fixed.
REPAIRS_OF_A = {
    "repairs": 4,
    "first_time_fix_rate": 0.6667,
    "turnaround_p50_hours": 20.0,
    "turnaround_p90_hours": 30.0,
    "sla_breaches": 1,
}


async def insights(stack: Stack, key: str, **params: str) -> dict[str, dict[str, Any]]:
    async with stack.http(key) as http:
        answer = await http.get("/v1/insights/products", params=params)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    return {item.pop("key"): item for item in items}


async def test_every_figure_by_sku_all_time(stack: Stack, shop: Shop) -> None:
    rows = await insights(stack, shop.retailer.key)
    assert rows == {
        shop.sku_a: EMPTY
        | REPAIRS_OF_A
        | {
            "sold": 10,
            "rmas": 3,
            "return_rate": 0.3,
            "reasons": {"changed_mind": 1, "defective": 2},
            "deflected": 2,
            "plan_claims": 1,
            "goodwill": 1,
            "csat_avg": 3.67,
            "feedback_count": 3,
        },
        shop.sku_b: EMPTY
        | {
            "sold": 1,
            "rmas": 1,
            "return_rate": 1.0,
            "reasons": {"defective": 1},
            "replacements": 1,
            "plan_claims": 1,
        },
        shop.sku_c: EMPTY
        | {"sold": 4, "rmas": 1, "return_rate": 0.25, "reasons": {"damaged": 1}, "deflected": 1},
    }


async def test_a_period_counts_what_was_opened_and_sold_in_it(stack: Stack, shop: Shop) -> None:
    rows = await insights(
        stack, shop.retailer.key, **{"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
    )
    # rep2 (March), rep4 (May), the 2025 RMA and order, and March's deflections fall outside;
    # rep1 still came back (its comeback is looked for whenever it was opened).
    assert rows[shop.sku_a] == EMPTY | {
        "sold": 5,
        "rmas": 2,
        "return_rate": 0.4,
        "reasons": {"changed_mind": 1, "defective": 1},
        "repairs": 2,
        "first_time_fix_rate": 0.5,
        "turnaround_p50_hours": 10.0,
        "turnaround_p90_hours": 30.0,
        "plan_claims": 1,
        "goodwill": 1,
        "csat_avg": 3.5,
        "feedback_count": 2,
    }
    assert rows[shop.sku_c]["deflected"] == 0


async def test_by_category(stack: Stack, shop: Shop) -> None:
    rows = await insights(stack, shop.retailer.key, group_by="category")
    # The RMA of B and C counts for audio and for video, once each.
    assert rows == {
        "audio": EMPTY
        | REPAIRS_OF_A
        | {
            "sold": 11,
            "rmas": 4,
            "return_rate": 0.3636,
            "reasons": {"changed_mind": 1, "defective": 3},
            "deflected": 2,
            "replacements": 1,
            "plan_claims": 2,
            "goodwill": 1,
            "csat_avg": 3.67,
            "feedback_count": 3,
        },
        "video": EMPTY
        | {"sold": 4, "rmas": 1, "return_rate": 0.25, "reasons": {"damaged": 1}, "deflected": 1},
    }


async def test_by_repair_center(stack: Stack, shop: Shop) -> None:
    rows = await insights(stack, shop.retailer.key, group_by="center")
    # Only the repairs went to a center; nothing is sold per center.
    assert rows == {
        shop.center.id: EMPTY
        | REPAIRS_OF_A
        | {"plan_claims": 1, "csat_avg": 3.0, "feedback_count": 2}
    }


async def test_fault_codes(stack: Stack, shop: Shop) -> None:
    async with stack.http(shop.retailer.key) as http:
        every = await http.get("/v1/insights/fault-codes")
        of_b = await http.get("/v1/insights/fault-codes", params={"sku": shop.sku_b})
        of_a = await http.get("/v1/insights/fault-codes", params={"sku": shop.sku_a})
    assert every.status_code == 200, every.text
    assert every.json()["items"] == [
        {
            "fault_code": "F1",
            "count": 2,
            "first_seen": "2026-01-25T00:00:00Z",
            "last_seen": "2026-03-03T10:00:00Z",
        },
        {
            "fault_code": "F2",
            "count": 1,
            "first_seen": "2026-01-20T00:00:00Z",
            "last_seen": "2026-01-20T00:00:00Z",
        },
    ]
    assert of_a.json() == every.json()
    assert of_b.json() == {"items": []}


async def test_csv_of_an_insight_and_of_a_list(stack: Stack, shop: Shop) -> None:
    async with stack.http(shop.retailer.key) as http:
        products = await http.get("/v1/insights/products", params={"format": "csv"})
        faults = await http.get("/v1/insights/fault-codes", headers={"Accept": "text/csv"})
        feedback = await http.get(
            "/v1/feedback", params={"limit": 2}, headers={"Accept": "text/csv"}
        )
        json_answer = await http.get("/v1/feedback", params={"limit": 2})
    assert products.status_code == 200, products.text
    assert products.headers["content-type"] == "text/csv; charset=utf-8"
    table = list(csv.DictReader(io.StringIO(products.text)))
    by_key = {row["key"]: row for row in table}
    assert by_key[shop.sku_a]["sold"] == "10"
    assert by_key[shop.sku_a]["return_rate"] == "0.3"
    assert by_key[shop.sku_a]["reasons.defective"] == "2"
    assert by_key[shop.sku_a]["reasons.changed_mind"] == "1"
    # A key without that reason has an empty cell; null figures are empty too.
    assert by_key[shop.sku_c]["reasons.defective"] == ""
    assert by_key[shop.sku_c]["turnaround_p50_hours"] == ""
    assert list(csv.reader(io.StringIO(faults.text)))[:2] == [
        ["fault_code", "count", "first_seen", "last_seen"],
        ["F1", "2", "2026-01-25T00:00:00Z", "2026-03-03T10:00:00Z"],
    ]
    # A list: its page as rows, the next page's address in a Link header.
    assert feedback.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(feedback.text)))
    assert [row["case_id"] for row in rows] == [i["case_id"] for i in json_answer.json()["items"]]
    cursor = json_answer.json()["next_cursor"]
    assert cursor is not None
    link, rel = feedback.headers["link"].split("; ")
    assert rel == 'rel="next"'
    following = urlsplit(link.strip("<>"))
    assert following.path == "/v1/feedback"
    assert parse_qs(following.query) == {"limit": ["2"], "cursor": [cursor]}


async def test_who_may_read_insight(stack: Stack, shop: Shop) -> None:
    async with stack.http(shop.center.key) as center:
        refused = await center.get("/v1/insights/products")
    assert refused.status_code == 403
    async with stack.http(shop.other.key) as other:
        theirs = await other.get("/v1/insights/products")
        bad = await other.get("/v1/insights/products", params={"group_by": "colour"})
        backwards = await other.get(
            "/v1/insights/products",
            params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        )
    assert {item["key"]: item["rmas"] for item in theirs.json()["items"]} == {shop.sku_a: 1}
    assert theirs.json()["items"][0]["sold"] == 100
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_error"
    assert backwards.status_code == 422
