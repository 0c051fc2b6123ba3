"""The built-in gateway's stand-in bank page speaks its case's reader's language (end to
end on the dev server, worker and API): a customer who enrolled in German reads the page,
its amount and its refusal of an unknown answer in German."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.helpers import add_product, make_org, wait_for
from tests.api.test_payment_authentication_e2e import bank_path
from tests.api.test_plans import plan
from tests.api.test_service_plan_e2e import enrolment
from tests.api.test_tracking_page import assert_html_page, h1, text_of
from tests.support import Stack

pytestmark = pytest.mark.e2e


async def test_a_german_customers_bank_page_is_in_german(stack: Stack) -> None:
    shop = await make_org(stack, "retailer")
    product = await add_product(stack, shop)
    code = f"CARE-{uuid.uuid4().hex[:6]}"
    async with stack.http(shop.key) as http:
        created = await http.post("/v1/plans", json=plan(code, waiting_period="PT0S"))
        assert created.status_code == 201, created.text
        body = enrolment(code, product["sku"], f"SN-{uuid.uuid4().hex[:8]}", "pm_requires_action")
        body["customer"]["locale"] = "de-DE"
        enrolled = await http.post("/v1/service-plans", json=body)
        assert enrolled.status_code == 201, enrolled.text
        waiting = await wait_for(
            http,
            f"/v1/service-plans/{enrolled.json()['id']}",
            lambda b: b.get("payment_action") is not None,
        )
    path = bank_path(waiting["payment_action"]["url"], stack)

    async with httpx.AsyncClient(base_url=stack.base_url) as customer:
        bank = assert_html_page(await customer.get(path), 200)
        assert '<html lang="de-DE">' in bank
        assert h1(bank) == "Bestätigen Sie Ihre Zahlung"
        assert text_of(bank, "amount") == "9,99 $"
        assert "Ihre Bank bittet Sie, die Zahlung von 9,99 $ zu bestätigen." in text_of(
            bank, "main"
        )
        assert ">Zahlung bestätigen</button>" in bank and ">Ablehnen</button>" in bank
        refused = await customer.post(path, data={"outcome": "maybe"})
        assert_html_page(refused, 422)
        assert text_of(refused.text, "message") == (
            "Bitte wählen Sie „Zahlung bestätigen“ oder „Ablehnen“."
        )
        assert "Confirm payment" not in refused.text
