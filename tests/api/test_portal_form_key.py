"""The portal's return form carries its nonce as the return's idempotency key. A key the page
cannot have rendered (a control character in it, or longer than the JSON API's
`Idempotency-Key`) is refused as the header would be, 422, with the form back to send again:
never a 500, and never a return started without the key it was sent with."""

from __future__ import annotations

import re

from api.idempotency import MAX_KEY_LENGTH
from tests.api.portal_helpers import new_shop, order_body, put_order, serial
from tests.api.test_tracking_page import assert_html_page
from tests.support import Stack

BAD_KEYS = ["\x01form", "form\tkey", "form\x00key", "k" * (MAX_KEY_LENGTH + 1)]


async def test_a_return_form_with_a_bad_key_starts_no_return(stack: Stack) -> None:
    shop = await new_shop(stack)
    order = order_body([{"sku": shop.skus[0], "serial": serial()}])
    await put_order(stack, shop, order)
    async with stack.http() as customer:
        found = await customer.post(
            f"/returns/{shop.slug}/lookup",
            data={"order_ref": order["order_ref"], "email": "ada@example.com"},
        )
        assert found.status_code == 303, found.text
        listing = assert_html_page(await customer.get(f"/returns/{shop.slug}/order"), 200)
        line_id = re.search(rf"/returns/{shop.slug}/items/(\d+)", listing)
        assert line_id is not None
        path = f"/returns/{shop.slug}/items/{line_id.group(1)}/return"
        form = {"reason": "other", "resolution": "refund"}

        fresh_key = ""
        for key in BAD_KEYS:
            refused = await customer.post(path, data={**form, "idempotency_key": key})
            page = assert_html_page(refused, 422)
            assert "start your return just now" in page, key
            # The form again, with a key of its own to send it with.
            fresh = re.search(r'name="idempotency_key" value="([^"]+)"', page)
            assert fresh is not None and fresh.group(1) != key
            fresh_key = fresh.group(1)

        async with stack.http(shop.org.key) as retailer:
            assert (await retailer.get("/v1/rmas")).json()["items"] == []

        # The fresh key the refusal rendered starts the return, once however often sent.
        for _ in range(2):
            sent = await customer.post(path, data={**form, "idempotency_key": fresh_key})
            assert sent.status_code == 303, sent.text[:2000]
            assert sent.headers["location"].startswith("/track/")
        async with stack.http(shop.org.key) as retailer:
            assert len((await retailer.get("/v1/rmas")).json()["items"]) == 1
