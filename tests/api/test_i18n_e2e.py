"""Languages, time zones and money end to end over HTTP, with the real dev server, worker,
read model and the local Stripe: a German customer of a yen shop whose return is refunded
(the tracking page, the emails and the PDFs in German, the refund of ¥1,234 with no decimals
in the API's JSON, the ledger, the PDFs or the request to Stripe), a French customer, a
retailer's defaults set with PATCH /v1/orgs/{id}, KWD's three decimals, and amounts or
locales the API refuses (422)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from io import BytesIO

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from activities.gateways import GatewayCall
from activities.gateways.stripe import StripeGateway
from db import models
from db.session import make_engine, make_sessionmaker
from domain.contracts.payments import PaymentKind
from tests.api.helpers import Org, customer, make_org, wait_for
from tests.api.read_model import Sessions
from tests.api.test_foundation import assert_problem
from tests.api.test_rma_e2e import carrier, rma_body, scan, with_label
from tests.api.test_stripe_e2e import VISA, StripeWorld, stripe_world

__all__ = ["stripe_world"]

pytestmark = pytest.mark.e2e


@pytest.fixture
async def sessions(stripe_world: StripeWorld) -> AsyncIterator[Sessions]:
    engine = make_engine(stripe_world.stack.settings.database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def yen_shop(world: StripeWorld) -> tuple[Org, str]:
    """A retailer on Stripe that sells in yen, German by default, on A4."""
    shop = await make_org(world.stack, "retailer")
    sku = f"RC-{uuid.uuid4().hex[:6]}"
    async with world.stack.http(shop.key) as http:
        put = await http.put(
            "/v1/integrations/payments",
            json={
                "provider": "stripe",
                "secret_key": world.stub.secret_key,
                "webhook_secret": world.stub.webhook_secret,
            },
        )
        assert put.status_code == 200, put.text
        policy = {"currency": "JPY", "review_threshold": "1000000"}
        assert (await http.put("/v1/policy", json=policy)).status_code == 200
        defaults = await http.patch(
            f"/v1/orgs/{shop.id}",
            json={
                "default_locale": "de-DE",
                "default_time_zone": "Europe/Berlin",
                "paper_size": "A4",
            },
        )
        assert defaults.status_code == 200, defaults.text
        assert defaults.json() | {"name": "", "slug": ""} == {
            "id": shop.id,
            "name": "",
            "kind": "retailer",
            "slug": "",
            "default_locale": "de-DE",
            "default_time_zone": "Europe/Berlin",
            "paper_size": "A4",
        }
        product = await http.post(
            "/v1/products",
            json={
                "sku": sku,
                "name": "Reiskocher",
                "category": "kitchen",
                "unit_price": {"amount": "1234", "currency": "JPY"},
                "warranty_months": 12,
            },
        )
        assert product.status_code == 201, product.text
        assert product.json()["unit_price"] == {"amount": "1234", "currency": "JPY"}
    return shop, sku


def pdf_text(pdf: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
        .replace("\xa0", " ")
        .split()
    )


async def emails_of(sessions: Sessions, case_id: str) -> list[models.Email]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(models.Email)
                .where(models.Email.case_id == case_id)
                .order_by(models.Email.seq)
            )
        )


async def email_for(sessions: Sessions, case_id: str, notice: str) -> models.Email:
    for _ in range(200):
        found = [e for e in await emails_of(sessions, case_id) if e.notice == notice]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {notice} email for {case_id}")


async def test_a_german_customers_yen_refund(stripe_world: StripeWorld, sessions: Sessions) -> None:
    world = stripe_world
    shop, sku = await yen_shop(world)
    order = await StripeGateway(world.stub.secret_key, world.stub.base_url).execute(
        GatewayCall(
            f"shop-order-{uuid.uuid4().hex[:6]}/1",
            PaymentKind.CHARGE,
            Decimal("1234"),
            "JPY",
            VISA,
            1,
        )
    )
    body = rma_body(sku) | {"payment_reference": order.reference}
    body["customer"] = customer("Zoë Łukasiewicz") | {"locale": "de-DE"}
    async with world.stack.http(shop.key) as http:
        created = await http.post("/v1/rmas", json=body)
        assert created.status_code == 201, created.text
        rma = await wait_for(http, f"/v1/rmas/{created.json()['id']}", with_label)
        assert rma["customer"]["locale"] == "de-DE"
        assert rma["items"][0]["unit_price"] == {"amount": "1234", "currency": "JPY"}
        documents = {d["kind"]: (await http.get(d["url"])).content for d in rma["documents"]}
    # The label and the packing slip in German; the slip on the shop's A4 paper.
    label, slip = pdf_text(documents["return_label"]), documents["packing_slip"]
    assert "RÜCKSENDEETIKETT" in label and "Zoë Łukasiewicz" in label
    box = PdfReader(BytesIO(slip)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    assert "Lieferschein" in pdf_text(slip) and "Vorbereitet für Zoë" in pdf_text(slip)

    label_email = await email_for(sessions, rma["id"], "label_ready")
    assert label_email.subject == f"Ihr Versandetikett für {rma['id']} ist bereit"
    assert label_email.body.startswith("Hallo Zoë,\n")
    assert "Verfolgen Sie Ihren Vorgang jederzeit:" in label_email.body

    tracking = rma["shipments"][0]["tracking_number"]
    assert (await carrier(world.stack, scan(tracking, "delivered"))).status_code == 200
    async with world.stack.http(shop.key) as http:
        path = f"/v1/rmas/{rma['id']}"
        await wait_for(http, path, lambda b: b["status"] == "in_transit")
        assert (await http.post(f"{path}/receive")).status_code == 200
        graded = await http.post(f"{path}/inspection", json={"grade": "A", "serial_matches": True})
        assert graded.status_code == 200, graded.text
        done = await wait_for(http, path, lambda b: b["status"] == "completed")
    # No decimals anywhere: the API, the timeline, the ledger, the request to Stripe.
    assert done["refund"] == {"amount": "1234", "currency": "JPY"}
    refunded = next(e for e in done["timeline"] if e["event"] == "refunded")
    assert refunded["detail"]["amount"] == "1234"
    (refund,) = [r for r in world.stub.refunds.values() if r["payment_intent"] == order.reference]
    assert refund["amount"] == 1234
    posted = [p for method, path, p in world.stub.requests if path == "/v1/refunds"]
    assert posted and all(p["amount"] == "1234" for p in posted), posted
    (row,) = await world.ledger(rma["id"])
    assert (row.amount, row.currency) == (Decimal("1234"), "JPY")
    received = await email_for(sessions, rma["id"], "received")
    assert received.subject == f"Wir haben Ihr Paket erhalten ({rma['id']})"
    for email in await emails_of(sessions, rma["id"]):
        assert "1234.00" not in email.body and "1.234,00" not in email.body

    async with httpx.AsyncClient(base_url=world.stack.base_url, timeout=30) as anyone:
        page = (await anyone.get(f"/track/{rma['tracking_token']}")).text
    assert '<html lang="de-DE">' in page
    assert "Ihre Rücksendung" in page
    assert "Ihre Erstattung wurde ausgezahlt" in page
    assert "Erstattung ausgezahlt" in page
    assert "1.234\xa0¥" in page and "1.234,00" not in page
    assert "Diese Seite gehört nur Ihnen" in page


async def test_a_french_customer_and_the_shops_default(
    stripe_world: StripeWorld, sessions: Sessions
) -> None:
    world = stripe_world
    shop, sku = await yen_shop(world)
    french = rma_body(sku)
    french["customer"] = customer("Élodie Lefèvre") | {
        "locale": "fr-FR",
        "time_zone": "Europe/Paris",
    }
    default = rma_body(sku)  # names no locale: the shop's German
    async with world.stack.http(shop.key) as http:
        made = [await http.post("/v1/rmas", json=b) for b in (french, default)]
        assert [m.status_code for m in made] == [201, 201], [m.text for m in made]
        cases = [await wait_for(http, f"/v1/rmas/{m.json()['id']}", with_label) for m in made]
    email = await email_for(sessions, cases[0]["id"], "label_ready")
    assert email.subject == f"Votre étiquette d\u2019expédition pour {cases[0]['id']} est prête"
    assert email.body.startswith("Bonjour Élodie,\n")
    async with httpx.AsyncClient(base_url=world.stack.base_url, timeout=30) as anyone:
        fr_page = (await anyone.get(f"/track/{cases[0]['tracking_token']}")).text
        de_page = (await anyone.get(f"/track/{cases[1]['tracking_token']}")).text
    assert '<html lang="fr-FR">' in fr_page
    assert "Votre retour" in fr_page and "Ce que vous devez faire" in fr_page
    assert "Télécharger l\u2019étiquette de retour (PDF)" in fr_page
    assert '<html lang="de-DE">' in de_page and "Was Sie tun müssen" in de_page


async def test_currency_decimals_and_bad_locales_are_refused(stripe_world: StripeWorld) -> None:
    world = stripe_world
    shop, sku = await yen_shop(world)
    kwd = await make_org(world.stack, "retailer")
    async with world.stack.http(kwd.key) as http:
        assert (await http.put("/v1/policy", json={"currency": "KWD"})).status_code == 200
        product = {
            "sku": "LAMP-1",
            "name": "Lamp",
            "category": "home",
            "unit_price": {"amount": "12.345", "currency": "KWD"},
            "warranty_months": 12,
        }
        added = await http.post("/v1/products", json=product)
        assert added.status_code == 201, added.text
        assert added.json()["unit_price"] == {"amount": "12.345", "currency": "KWD"}
        # A bare amount is one of the catalog's currency.
        update = {k: v for k, v in product.items() if k != "sku"} | {"unit_price": "12.5"}
        put = await http.put("/v1/products/LAMP-1", json=update)
        assert put.status_code == 200, put.text
        assert put.json()["unit_price"] == {"amount": "12.500", "currency": "KWD"}
        update["unit_price"] = {"amount": "12.3456", "currency": "KWD"}
        too_fine = await http.put("/v1/products/LAMP-1", json=update)
        assert_problem(too_fine, 422, "validation_error")
    async with world.stack.http(shop.key) as http:
        for price in ({"amount": "1234.5", "currency": "JPY"}, "99.90"):
            body = {
                "sku": f"X-{uuid.uuid4().hex[:4]}",
                "name": "x",
                "category": "x",
                "unit_price": price,
                "warranty_months": 1,
            }
            refused = await http.post("/v1/products", json=body)
            assert_problem(refused, 422, "validation_error")
            assert "JPY amounts have 0 decimals" in refused.text
        for bad in ({"locale": "xx-NOWHERE"}, {"time_zone": "Mars/Olympus"}):
            body = rma_body(sku)
            body["customer"] = customer() | bad
            assert_problem(await http.post("/v1/rmas", json=body), 422, "validation_error")
        for bad_org in ({"paper_size": "A5"}, {"default_locale": "no such"}):
            assert_problem(
                await http.patch(f"/v1/orgs/{shop.id}", json=bad_org), 422, "validation_error"
            )
