"""`aftersales demo`: a retailer, a repair center, products, a policy and a handful of cases in
different states on a running development stack, through its API as any client would.

Run it again and nothing new is made: the organisations and their keys are kept in
`<data dir>/demo-keys` (mode 0600, as the stack's other secrets; the database keeps only the
keys' hashes, so that file is the one place they can be shown again), every case is created and
moved with a fixed `Idempotency-Key`, and every carrier event with a fixed id, so a second run
gets the first run's answers. A key revoked since is replaced by a fresh one for the same
organisation. Delete the file for a new pair of organisations."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from devtools.place import Place
from devtools.simulate import scan

KEYS_FILE = "demo-keys"
WAIT_SECONDS = 60.0

RETAILER_NAME = "Demo Audio Shop"
CENTER_NAME = "Demo Repair Works"
PRODUCTS = [
    {"sku": "SPK-1", "name": "Bookshelf speaker", "category": "audio", "price": "129.99"},
    {"sku": "COF-1", "name": "Espresso machine", "category": "coffee", "price": "349.00"},
    # Over the policy's review threshold (1000.00): its returns wait for the retailer.
    {"sku": "TV-1", "name": "OLED television", "category": "video", "price": "1499.00"},
]
SHOP_ADDRESS = {
    "name": "Demo Audio Shop returns",
    "line1": "1 Warehouse Way",
    "city": "Leeds",
    "postal_code": "LS1 1AA",
    "country": "GB",
}
CENTER_PROFILE = {
    "categories": ["audio", "coffee", "video"],
    "regions": ["GB", "IE", "US"],
    "daily_capacity": 20,
    "labor_rate": {"amount": "60.00", "currency": "USD"},
    "address": {
        "line1": "7 Bench Street",
        "city": "Manchester",
        "postal_code": "M1 1AE",
        "country": "GB",
    },
}


@dataclass
class Org:
    id: str
    key: str


@dataclass
class Seeded:
    retailer: Org
    center: Org
    cases: list[dict[str, Any]]


def customer(name: str, email: str) -> dict[str, Any]:
    return {
        "name": name,
        "email": email,
        "address": {
            "line1": "12 Analytical Row",
            "city": "London",
            "postal_code": "N1 9GU",
            "country": "GB",
        },
    }


class Demo:
    def __init__(self, place: Place) -> None:
        self.place = place
        self.http = httpx.Client(base_url=place.url, timeout=60)
        self.path = place.data_dir / KEYS_FILE

    # ----------------------------------------------------------------- organisations

    def seed(self) -> Seeded:
        stored = self._load()
        admin = self.place.admin_key()
        retailer = self._org(admin, stored.get("retailer"), RETAILER_NAME, "retailer")
        center = self._org(admin, stored.get("repair_center"), CENTER_NAME, "repair_center")
        # The purchase date of the demo's units, fixed at the first run: a retried create
        # must carry the same body as the first, or its Idempotency-Key would be refused.
        purchased_at = stored.get("purchased_at") or _moment(datetime.now(UTC) - timedelta(days=5))
        self._save(
            {
                "url": self.place.url,
                "retailer": retailer.__dict__,
                "repair_center": center.__dict__,
                "purchased_at": purchased_at,
            }
        )
        self._setup(retailer, center)
        cases = self._cases(retailer, center, purchased_at)
        return Seeded(retailer, center, cases)

    def _org(self, admin: str, stored: dict[str, str] | None, name: str, kind: str) -> Org:
        if stored:
            probe = "/v1/policy" if kind == "retailer" else "/v1/repair-centers/me"
            if self._get(probe, stored["key"], ok=(200, 404)).status_code != 401:
                return Org(stored["id"], stored["key"])
            # Revoked since: a fresh key for the same organisation.
            key = self._call("POST", f"/v1/orgs/{stored['id']}/api-keys", admin).json()["key"]
            return Org(stored["id"], key)
        org = self._call("POST", "/v1/orgs", admin, {"name": name, "kind": kind}).json()
        key = self._call("POST", f"/v1/orgs/{org['id']}/api-keys", admin).json()["key"]
        return Org(org["id"], key)

    def _load(self) -> dict[str, Any]:
        try:
            stored: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        # Keys of another stack (the file copied, the URL changed) are worth trying: a
        # refused one is replaced, never reused.
        return stored

    def _save(self, content: dict[str, Any]) -> None:
        """Written whole and renamed into place, created 0600 (never readable by others)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{KEYS_FILE}.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(content, file, indent=2)
            file.write("\n")
        os.replace(temporary, self.path)

    # ----------------------------------------------------------------- catalog and policy

    def _setup(self, retailer: Org, center: Org) -> None:
        self._call("PUT", "/v1/policy", retailer.key, {"return_address": SHOP_ADDRESS})
        for product in PRODUCTS:
            body = {
                "sku": product["sku"],
                "name": product["name"],
                "category": product["category"],
                "unit_price": {"amount": product["price"], "currency": "USD"},
                "warranty_months": 24,
            }
            self._call("POST", "/v1/products", retailer.key, body, ok=(201, 409))
        self._call("PUT", "/v1/repair-centers/me", center.key, CENTER_PROFILE)
        # The demo's repairs go to the demo's center, whatever other centers the stack has.
        self._call("PUT", "/v1/repair-network", retailer.key, {"centers": [center.id]})

    # ----------------------------------------------------------------------------- cases

    def _cases(self, retailer: Org, center: Org, purchased_at: str) -> list[dict[str, Any]]:
        shop = retailer.key

        def rma(name: str, person: str, sku: str, serial: str) -> dict[str, Any]:
            email = person.split()[0].lower() + "@example.com"
            body = {
                "order_ref": f"DEMO-{serial}",
                "purchased_at": purchased_at,
                "resolution": "refund",
                "customer": customer(person, email),
                "items": [{"sku": sku, "serial": serial, "quantity": 1, "reason": "defective"}],
            }
            created: dict[str, Any] = self._call(
                "POST", "/v1/rmas", shop, body, key=f"demo-{name}"
            ).json()
            return created

        waiting = rma("rma-waiting", "Ada Lovelace", "SPK-1", "DEMO-SPK-0001")
        moving = rma("rma-in-transit", "Grace Hopper", "SPK-1", "DEMO-SPK-0002")
        refunded = rma("rma-refunded", "Alan Turing", "SPK-1", "DEMO-SPK-0003")
        review = rma("rma-review", "Katherine Johnson", "TV-1", "DEMO-TV-0001")

        for case, status, step in ((moving, "in_transit", "in"), (refunded, "delivered", "done")):
            tracking = self._wait(f"/v1/rmas/{case['id']}", shop, lambda b: bool(b["shipments"]))
            number = tracking["shipments"][0]["tracking_number"]
            answer = scan(self.place, number, status, event_id=f"demo-{case['id']}-{step}")
            if not answer.is_success:
                raise SystemExit(f"aftersales: the demo's scan was refused: {answer.text}")
        self._wait(f"/v1/rmas/{refunded['id']}", shop, lambda b: b["status"] != "awaiting_return")
        path = f"/v1/rmas/{refunded['id']}"
        self._call("POST", f"{path}/receive", shop, {"note": "dock 1"}, key="demo-rma-refunded-r")
        inspection = {"grade": "A", "serial_matches": True, "notes": "as new"}
        self._call("POST", f"{path}/inspection", shop, inspection, key="demo-rma-refunded-i")

        repair = self._call(
            "POST",
            "/v1/repairs",
            shop,
            {
                "unit": {"sku": "COF-1", "serial": "DEMO-COF-0001", "purchased_at": purchased_at},
                "fault": "Pump hums, no water comes through",
                "customer": customer("Hedy Lamarr", "hedy@example.com"),
            },
            key="demo-repair",
        ).json()
        for status in ("received", "diagnosing"):
            self._call(
                "POST",
                f"/v1/repairs/{repair['id']}/status",
                center.key,
                {"status": status},
                key=f"demo-repair-{status}",
            )

        wanted = {
            waiting["id"]: ("rma", "awaiting_return"),
            moving["id"]: ("rma", "in_transit"),
            refunded["id"]: ("rma", "completed"),
            review["id"]: ("rma", "pending_review"),
            repair["id"]: ("repair", "diagnosing"),
        }
        cases = []
        for case_id, (kind, status) in wanted.items():
            cases.append(self._wait(f"/v1/{kind}s/{case_id}", shop, _in_status(status)))
        return cases

    # ------------------------------------------------------------------------------ HTTP

    def _call(
        self,
        method: str,
        path: str,
        api_key: str,
        body: dict[str, Any] | None = None,
        key: str | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {api_key}"}
        if key:
            headers["Idempotency-Key"] = key
        answer = self.http.request(method, path, json=body, headers=headers)
        if answer.status_code not in ok:
            raise SystemExit(
                f"aftersales: {method} {path} answered {answer.status_code}: {answer.text[:500]}"
            )
        return answer

    def _get(self, path: str, api_key: str, ok: tuple[int, ...]) -> httpx.Response:
        answer = self.http.get(path, headers={"Authorization": f"Bearer {api_key}"})
        if answer.status_code not in (*ok, 401):
            raise SystemExit(f"aftersales: GET {path} answered {answer.status_code}")
        return answer

    def _wait(
        self, path: str, api_key: str, ready: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            body: dict[str, Any] = self._call("GET", path, api_key).json()
            if ready(body):
                return body
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"aftersales: {path} stayed {body.get('status')}; is the worker up?"
                )
            time.sleep(0.3)


def _in_status(status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: bool(body["status"] == status)


def _moment(at: datetime) -> str:
    return at.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def demo_command(place: Place, shell: bool) -> int:
    try:
        seeded = Demo(place).seed()
    except httpx.HTTPError as exc:
        raise SystemExit(
            f"aftersales: cannot reach the API at {place.url} ({exc}); is `make run` running?"
        ) from None
    if shell:
        print(
            f"export AFTERSALES_URL={place.url}\n"
            f"export SHOP_KEY={seeded.retailer.key}\n"
            f"export CENTER_KEY={seeded.center.key}\n"
            f"export CENTER_ID={seeded.center.id}"
        )
        return 0
    print(
        f"\nThe demo on {place.url} (keys kept in {place.data_dir / KEYS_FILE}, mode 0600)\n\n"
        f"  retailer       {RETAILER_NAME:<20} key {seeded.retailer.key}\n"
        f"  repair center  {CENTER_NAME:<20} key {seeded.center.key}\n"
        f"  admin          key in {place.data_dir / 'admin-key'}\n\n"
        "  products       " + ", ".join(f"{p['sku']} ({p['name']})" for p in PRODUCTS) + "\n"
    )
    for case in seeded.cases:
        print(f"  {case['id']:<30} {case['status']:<16} {place.url}/track/{case['tracking_token']}")
    print(
        f"\n  API docs       {place.url}/docs (Authorize with a key above)\n"
        f'  in your shell  eval "$(.venv/bin/aftersales demo --env)"  '
        "sets AFTERSALES_URL, SHOP_KEY, CENTER_KEY, CENTER_ID\n"
    )
    return 0
