"""A local EasyPost for tests: the endpoints the `easypost` SDK calls for a booking, a
refund and a label, with EasyPost's documented request and answer shapes (`/v2/shipments`,
`/v2/shipments/{id}/buy|refund|label`, errors as `{"error": {"code", "message", "errors"}}`),
a real 4x6 PDF at each label's URL, and signed tracker webhooks (`X-Hmac-Signature:
hmac-sha256-hex=<HMAC-SHA256 of the body with the webhook secret>`).

Faults are injected per endpoint (`fail_next("buy", 503)`, `fail_next("buy", 503,
after=True)`: the buy happens and its answer is lost, `fail_next("create", None,
delay=3)`: an answer too late). An address whose `street1` contains `BAD` is refused as
EasyPost refuses one it cannot verify (422)."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import secrets
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from reportlab.lib.units import inch
from reportlab.pdfgen import canvas

# What the stub offers for every parcel: USPS's two and UPS's one, cheapest not first.
RATES = (
    ("USPS", "Priority", "7.58"),
    ("UPS", "Ground", "9.10"),
    ("USPS", "GroundAdvantage", "5.20"),
)
# The heaviest parcel anyone rates (70 lb, in ounces): above it there are no rates.
MAX_OUNCES = 1120.0
LABEL_MARK = "EASYPOST STUB LABEL"


@dataclass
class Fault:
    status: int | None
    after: bool = False
    delay: float = 0.0


@dataclass
class EasyPostStub:
    """Start with `start()`, stop with `stop()`; `base_url` is what the SDK is pointed at."""

    api_key: str = "EZTK_stub_key"
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)
    buys: list[str] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=lambda: defaultdict(list))
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> EasyPostStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub._handle(self, "GET")

            def do_POST(self) -> None:
                stub._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(
        self, endpoint: str, status: int | None, *, after: bool = False, delay: float = 0.0
    ) -> None:
        """The next call to `endpoint` (`create`, `buy`, `refund`, `retrieve`) fails with
        `status` (None: only late, by `delay` seconds); `after`: once the work is done."""
        self.faults[endpoint].append(Fault(status, after, delay))

    def buys_of(self, shipment_id: str) -> int:
        return self.buys.count(shipment_id)

    def by_tracking_code(self, tracking_code: str) -> dict[str, Any]:
        return next(s for s in self.shipments.values() if s["tracking_code"] == tracking_code)

    # ---------------------------------------------------------------- webhooks

    def tracker_event(
        self,
        tracking_code: str,
        status: str,
        *,
        event_id: str | None = None,
        city: str = "Memphis",
    ) -> dict[str, Any]:
        """A `tracker.updated` Event as EasyPost posts it."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        shipment = self.by_tracking_code(tracking_code)
        tracker = dict(shipment["tracker"])
        detail = {
            "object": "TrackingDetail",
            "message": status.replace("_", " ").capitalize(),
            "status": status,
            "status_detail": "status_update",
            "datetime": now,
            "source": "USPS",
            "tracking_location": {
                "object": "TrackingLocation",
                "city": city,
                "state": "TN",
                "country": "US",
                "zip": "38101",
            },
        }
        tracker.update(status=status, updated_at=now, tracking_details=[detail])
        return {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "object": "Event",
            "mode": "test",
            "description": "tracker.updated",
            "previous_attributes": {"status": shipment["tracker"]["status"]},
            "result": tracker,
            "status": "pending",
            "created_at": now,
            "updated_at": now,
        }

    @staticmethod
    def sign(body: bytes, secret: str) -> str:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return f"hmac-sha256-hex={digest}"

    def send(self, url: str, event: dict[str, Any], secret: str) -> httpx.Response:
        """POST the event to `url` as EasyPost does, signed with `secret`."""
        body = json.dumps(event).encode()
        headers = {"Content-Type": "application/json", "X-Hmac-Signature": self.sign(body, secret)}
        return httpx.post(url, content=body, headers=headers, timeout=10)

    # ---------------------------------------------------------------- the API

    def _handle(self, http: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = json.loads(http.rfile.read(length) or b"{}") if length else {}
        if url.path.startswith("/labels/"):
            self._label(http, url.path.removeprefix("/labels/").removesuffix(".pdf"))
            return
        if http.headers.get("Authorization") != f"Bearer {self.api_key}":
            self._answer(http, 401, _error("APIKEY.INACTIVE", "This api key is no longer active."))
            return
        self.requests.append((method, url.path, body))
        route = _route(method, url.path)
        if route is None:
            self._answer(
                http, 404, _error("NOT_FOUND", "The requested resource could not be found.")
            )
            return
        endpoint, shipment_id = route
        fault = self._fault(endpoint)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None and not fault.after:
            self._answer(http, fault.status, _server_error(fault.status))
            return
        with self._lock:
            status, answer = self._do(endpoint, shipment_id, body, parse_qs(url.query))
        if fault is not None and fault.status is not None and fault.after:
            status, answer = fault.status, _server_error(fault.status)
        self._answer(http, status, answer)

    def _fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            pending = self.faults.get(endpoint)
            return pending.pop(0) if pending else None

    def _do(
        self, endpoint: str, shipment_id: str, body: dict[str, Any], query: dict[str, list[str]]
    ) -> tuple[int, dict[str, Any]]:
        if endpoint == "create":
            return self._create(body.get("shipment") or {})
        shipment = self.shipments.get(shipment_id)
        if shipment is None:
            return 404, _error("SHIPMENT.NOT_FOUND", "The requested resource could not be found.")
        if endpoint == "retrieve":
            return 200, shipment
        if endpoint == "buy":
            return self._buy(shipment, body)
        if endpoint == "refund":
            return self._refund(shipment)
        if endpoint == "label":
            return self._convert(shipment, query)
        raise AssertionError(endpoint)

    def _create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for side in ("from_address", "to_address"):
            place = params.get(side) or {}
            if "BAD" in str(place.get("street1", "")).upper():
                return 422, _error(
                    "ADDRESS.VERIFY.FAILURE",
                    "Unable to verify address.",
                    [{"field": "street1", "message": "Address not found", "suggestion": None}],
                )
        parcel = params.get("parcel") or {}
        shipment_id = f"shp_{secrets.token_hex(16)}"
        too_heavy = float(parcel.get("weight") or 0) > MAX_OUNCES
        shipment = {
            "id": shipment_id,
            "object": "Shipment",
            "mode": "test",
            "reference": params.get("reference"),
            "is_return": bool(params.get("is_return")),
            "status": "unknown",
            "from_address": {
                "id": f"adr_{secrets.token_hex(8)}",
                "object": "Address",
                **params.get("from_address", {}),
            },
            "to_address": {
                "id": f"adr_{secrets.token_hex(8)}",
                "object": "Address",
                **params.get("to_address", {}),
            },
            "parcel": {"id": f"prcl_{secrets.token_hex(8)}", "object": "Parcel", **parcel},
            "options": params.get("options") or {},
            "rates": []
            if too_heavy
            else [
                {
                    "id": f"rate_{secrets.token_hex(8)}",
                    "object": "Rate",
                    "mode": "test",
                    "service": service,
                    "carrier": carrier,
                    "rate": rate,
                    "currency": "USD",
                    "shipment_id": shipment_id,
                    "delivery_days": 2,
                }
                for carrier, service, rate in RATES
            ],
            "messages": [
                {"carrier": "USPS", "type": "rate_error", "message": "Weight exceeds limit"}
            ]
            if too_heavy
            else [],
            "selected_rate": None,
            "postage_label": None,
            "tracking_code": None,
            "tracker": None,
            "refund_status": None,
            "created_at": _now(),
            "updated_at": _now(),
        }
        self.shipments[shipment_id] = shipment
        return 201, shipment

    def _buy(self, shipment: dict[str, Any], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if shipment["postage_label"] is not None:
            return 422, _error("SHIPMENT.POSTAGE.EXISTS", "This shipment already has postage.")
        rate_id = (body.get("rate") or {}).get("id")
        rate = next((r for r in shipment["rates"] if r["id"] == rate_id), None)
        if rate is None:
            return 422, _error("SHIPMENT.RATE.INVALID", "The rate is not one of this shipment's.")
        self.buys.append(shipment["id"])
        tracking_code = f"9400{secrets.randbelow(10**18):018d}"
        label_url = f"{self.base_url}/labels/{shipment['id']}.pdf"
        shipment.update(
            status="unknown",
            selected_rate=rate,
            tracking_code=tracking_code,
            postage_label={
                "id": f"pl_{secrets.token_hex(8)}",
                "object": "PostageLabel",
                "label_size": "4x6",
                "label_file_type": "application/pdf",
                "label_url": label_url,
                "label_pdf_url": label_url,
                "label_date": _now(),
            },
            tracker={
                "id": f"trk_{secrets.token_hex(8)}",
                "object": "Tracker",
                "mode": "test",
                "tracking_code": tracking_code,
                "status": "pre_transit",
                "carrier": rate["carrier"],
                "shipment_id": shipment["id"],
                "tracking_details": [],
            },
            updated_at=_now(),
        )
        return 200, shipment

    def _refund(self, shipment: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if shipment["postage_label"] is None:
            return 422, _error("SHIPMENT.REFUND.NOT_PURCHASED", "The shipment has no postage.")
        if shipment["refund_status"] is not None:
            return 422, _error(
                "SHIPMENT.REFUND.ALREADY_SUBMITTED", "A refund is already under way."
            )
        self.refunds.append(shipment["id"])
        shipment["refund_status"] = "submitted"
        return 200, shipment

    def _convert(
        self, shipment: dict[str, Any], query: dict[str, list[str]]
    ) -> tuple[int, dict[str, Any]]:
        if query.get("file_format") != ["PDF"] or shipment["postage_label"] is None:
            return 422, _error("SHIPMENT.LABEL.INVALID", "Cannot convert the label.")
        label = shipment["postage_label"]
        label["label_pdf_url"] = label["label_url"]
        return 200, shipment

    def _label(self, http: BaseHTTPRequestHandler, shipment_id: str) -> None:
        shipment = self.shipments.get(shipment_id)
        if shipment is None or shipment["tracking_code"] is None:
            self._answer(http, 404, _error("NOT_FOUND", "no such label"))
            return
        pdf = label_pdf(shipment["tracking_code"], shipment["selected_rate"]["carrier"])
        http.send_response(200)
        http.send_header("Content-Type", "application/pdf")
        http.send_header("Content-Length", str(len(pdf)))
        http.end_headers()
        http.wfile.write(pdf)

    @staticmethod
    def _answer(http: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        http.send_response(status)
        http.send_header("Content-Type", "application/json")
        http.send_header("Content-Length", str(len(raw)))
        http.end_headers()
        http.wfile.write(raw)


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up waiting (the timeout fault) closed its end: not an error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def label_pdf(tracking_code: str, carrier: str) -> bytes:
    """A 4x6 inch page as a carrier's label is: the stub's mark, the carrier, the code."""
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=(4 * inch, 6 * inch))
    page.setFont("Helvetica-Bold", 14)
    page.drawString(0.3 * inch, 5.4 * inch, LABEL_MARK)
    page.drawString(0.3 * inch, 5.0 * inch, carrier)
    page.setFont("Helvetica", 11)
    page.drawString(0.3 * inch, 4.6 * inch, tracking_code)
    page.showPage()
    page.save()
    return out.getvalue()


_ROUTES = (
    ("POST", re.compile(r"^/v2/shipments$"), "create"),
    ("GET", re.compile(r"^/v2/shipments/(shp_\w+)$"), "retrieve"),
    ("POST", re.compile(r"^/v2/shipments/(shp_\w+)/buy$"), "buy"),
    ("POST", re.compile(r"^/v2/shipments/(shp_\w+)/refund$"), "refund"),
    ("GET", re.compile(r"^/v2/shipments/(shp_\w+)/label$"), "label"),
)


def _route(method: str, path: str) -> tuple[str, str] | None:
    for verb, pattern, endpoint in _ROUTES:
        match = pattern.match(path)
        if verb == method and match:
            return endpoint, match.group(1) if match.groups() else ""
    return None


def _error(code: str, message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "errors": errors or []}}


def _server_error(status: int) -> dict[str, Any]:
    return _error("INTERNAL_SERVER_ERROR", f"The stub answers {status} this once.")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
