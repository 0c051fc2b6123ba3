"""A local Stripe for tests: the endpoints the `stripe` SDK calls for our payments, with
Stripe's documented request and answer shapes: form-encoded `POST /v1/payment_intents`,
`/v1/payment_intents/{id}/confirm|capture|cancel`, `GET /v1/payment_intents/{id}`,
`GET /v1/payment_methods/{id}`, `POST /v1/refunds`, `GET /v1/refunds/{id}`; errors as
`{"error": {"type", "code", "decline_code", "message", "param", "payment_intent"}}` with
Stripe's status codes (402 for a card error); `Idempotency-Key` honoured as Stripe does
(the same key answers the first answer again, a different request under it is a 400
`idempotency_error`); a secret key checked on every request (401 otherwise).

Test payment methods, as Stripe's test cards behave: `pm_card_visa` (and any other
`pm_card_*`) pays, `pm_card_chargeDeclined` is declined (`card_declined` /
`generic_decline`), `pm_card_chargeDeclinedInsufficientFunds` too (`insufficient_funds`),
`pm_card_authenticationRequired` is refused off-session (`authentication_required`) and,
confirmed on-session with a `return_url`, wants 3-D Secure: `requires_action` with a
`redirect_to_url` on this stub (`/authenticate/{id}`), which `complete_authentication`
(or a POST there, as a customer's browser would) settles, sending the signed
`payment_intent.succeeded` or `payment_intent.payment_failed` event to `webhook_url`
(`Stripe-Signature: t=<unix>,v1=<HMAC-SHA256 hex of "t.body" with webhook_secret>`).

Faults per endpoint: `fail_next("create", 500)` answers 500 and does nothing,
`fail_next("create", 500, after=True)` does the work and loses the answer."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

import httpx

DECLINES = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
}
AUTHENTICATION_REQUIRED = "pm_card_authenticationRequired"


@dataclass
class Fault:
    status: int
    after: bool = False


class StripeFailure(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        self.status = status
        self.error = error


def sign(secret: str, payload: bytes, at: int | None = None) -> str:
    """A `Stripe-Signature` header as Stripe computes it."""
    timestamp = int(time.time()) if at is None else at
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`metadata[key]=v`, `expand[]=x`) back into a dict."""
    params: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        match = re.fullmatch(r"(\w+)\[(\w*)\]", key)
        if match is None:
            params[key] = value
        elif match.group(2):
            params.setdefault(match.group(1), {})[match.group(2)] = value
        else:
            params.setdefault(match.group(1), []).append(value)
    return params


@dataclass
class StripeStub:
    """Start with `start()`, stop with `stop()`; point the SDK at `base_url`."""

    secret_key: str = "sk_test_stub"
    webhook_secret: str = "whsec_stub"
    webhook_url: str = ""
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    # (method, path, params) of every request that reached an endpoint, in order.
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=lambda: defaultdict(list))
    _answers: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> StripeStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                stub._serve(self, "GET")

            def do_POST(self) -> None:
                stub._serve(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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

    def fail_next(self, endpoint: str, status: int, after: bool = False) -> None:
        """The next call of `endpoint` (create, confirm, capture, cancel, refund) fails."""
        self.faults[endpoint].append(Fault(status, after))

    # ---------------------------------------------------------------- test helpers

    def created(self) -> list[dict[str, Any]]:
        """PaymentIntents in creation order."""
        return sorted(self.intents.values(), key=lambda pi: pi["_seq"])

    def complete_authentication(self, intent_id: str, succeed: bool = True) -> dict[str, Any]:
        """What the customer's bank does once they pass (or fail) 3-D Secure: the
        PaymentIntent moves on and Stripe sends its signed event to `webhook_url`."""
        with self._lock:
            intent = self.intents[intent_id]
            if intent["status"] != "requires_action":
                raise ValueError(f"{intent_id} is {intent['status']}, not requires_action")
            intent["next_action"] = None
            if succeed:
                manual = intent["capture_method"] == "manual"
                intent["status"] = "requires_capture" if manual else "succeeded"
                intent["amount_capturable"] = intent["amount"] if manual else 0
                intent["amount_received"] = 0 if manual else intent["amount"]
                event_type = "payment_intent.succeeded"
            else:
                intent["status"] = "requires_payment_method"
                intent["last_payment_error"] = _error_object(
                    "card_error",
                    "payment_intent_authentication_failure",
                    None,
                    "The provided PaymentMethod has failed authentication.",
                )
                event_type = "payment_intent.payment_failed"
            event = self._event(event_type, intent)
        self.send(event)
        return event

    def send(
        self, event: dict[str, Any], secret: str | None = None, at: int | None = None
    ) -> httpx.Response:
        """POST `event` to `webhook_url`, signed as Stripe signs (with another `secret` or
        time `at` to test a refusal)."""
        payload = json.dumps(event).encode()
        header = sign(secret or self.webhook_secret, payload, at)
        return httpx.post(
            self.webhook_url,
            content=payload,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            timeout=30,
        )

    def event_for(self, event_type: str, intent_id: str) -> dict[str, Any]:
        with self._lock:
            return self._event(event_type, self.intents[intent_id])

    # ---------------------------------------------------------------- serving

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        params = form(body if method == "POST" else url.query)
        if url.path.startswith("/authenticate/"):
            return self._authenticate_page(handler, method, url.path, params)
        if handler.headers.get("Authorization") != f"Bearer {self.secret_key}":
            error = {"type": "invalid_request_error", "message": "Invalid API Key provided"}
            return _send(handler, 401, {"error": error})
        key = handler.headers.get("Idempotency-Key")
        fingerprint = json.dumps([method, url.path, params], sort_keys=True)
        with self._lock:
            self.requests.append((method, url.path, params))
            if method == "POST" and key and key in self._answers:
                first, status, answer = self._answers[key]
                if first != fingerprint:
                    message = (
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with."
                    )
                    error = {"type": "idempotency_error", "message": message}
                    return _send(handler, 400, {"error": error})
                return _send(handler, status, answer, replayed=True)
            try:
                endpoint, act = self._route(method, url.path)
            except StripeFailure as failure:
                return _send(handler, failure.status, {"error": failure.error})
            fault = self.faults[endpoint].pop(0) if self.faults.get(endpoint) else None
            if fault is not None and not fault.after:
                error = {"type": "api_error", "message": "stub: injected failure"}
                return _send(handler, fault.status, {"error": error})
            try:
                status, answer = 200, act(params)
            except StripeFailure as failure:
                status, answer = failure.status, {"error": failure.error}
            if method == "POST" and key:
                self._answers[key] = (fingerprint, status, answer)
        if fault is not None:
            error = {"type": "api_error", "message": "stub: injected failure after the work"}
            return _send(handler, fault.status, {"error": error})
        _send(handler, status, answer)

    def _route(self, method: str, path: str) -> tuple[str, Any]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "payment_intents"]:
            return "create", self._create
        if method == "POST" and parts == ["v1", "refunds"]:
            return "refund", self._refund
        if len(parts) == 3 and parts[:2] == ["v1", "payment_methods"] and method == "GET":
            return "payment_method", lambda _: _payment_method(parts[2])
        if len(parts) >= 3 and parts[:2] == ["v1", "payment_intents"]:
            intent = self._intent(parts[2])
            if len(parts) == 3 and method == "GET":
                return "retrieve", lambda _: _public(intent)
            actions = {"confirm": self._confirm, "capture": self._capture, "cancel": self._cancel}
            if len(parts) == 4 and method == "POST" and parts[3] in actions:
                act = actions[parts[3]]
                return parts[3], lambda p: act(intent, p)
        if len(parts) == 3 and parts[:2] == ["v1", "refunds"] and method == "GET":
            refund = self.refunds.get(parts[2])
            if refund is None:
                raise_missing("refund", parts[2])
            return "retrieve_refund", lambda _: refund or {}
        return "unknown", _unknown

    def _intent(self, intent_id: str) -> dict[str, Any]:
        intent = self.intents.get(intent_id)
        if intent is None:
            raise_missing("payment_intent", intent_id)
        assert intent is not None
        return intent

    # ---------------------------------------------------------------- endpoints

    def _create(self, params: dict[str, Any]) -> dict[str, Any]:
        for required in ("amount", "currency"):
            if required not in params:
                raise StripeFailure(
                    400,
                    _error_object(
                        "invalid_request_error",
                        "parameter_missing",
                        required,
                        f"Missing required param: {required}.",
                    ),
                )
        intent_id = "pi_" + secrets.token_hex(12)
        intent: dict[str, Any] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "amount_capturable": 0,
            "amount_received": 0,
            "capture_method": params.get("capture_method", "automatic_async"),
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": params["currency"],
            "customer": params.get("customer"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "next_action": None,
            "payment_method": params.get("payment_method"),
            "status": "requires_payment_method"
            if not params.get("payment_method")
            else "requires_confirmation",
            "_seq": len(self.intents),
            "_refunded": 0,
        }
        self.intents[intent_id] = intent
        if params.get("confirm") == "true":
            return self._confirm(intent, params)
        return _public(intent)

    def _confirm(self, intent: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise _unexpected_state(intent, "confirm")
        method = params.get("payment_method") or intent["payment_method"]
        intent["payment_method"] = method
        intent["last_payment_error"] = None
        off_session = params.get("off_session") == "true"
        if method in DECLINES:
            code, decline, message = DECLINES[method]
            return self._decline(intent, code, decline, message)
        if method == AUTHENTICATION_REQUIRED:
            if off_session or not params.get("return_url"):
                return self._decline(
                    intent,
                    "authentication_required",
                    "authentication_required",
                    "Your card was declined. This transaction requires authentication.",
                )
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "redirect_to_url",
                "redirect_to_url": {
                    "return_url": params["return_url"],
                    "url": f"{self.base_url}/authenticate/{intent['id']}",
                },
            }
            return _public(intent)
        manual = intent["capture_method"] == "manual"
        intent["status"] = "requires_capture" if manual else "succeeded"
        intent["amount_capturable"] = intent["amount"] if manual else 0
        intent["amount_received"] = 0 if manual else intent["amount"]
        intent["latest_charge"] = "ch_" + secrets.token_hex(12)
        return _public(intent)

    def _decline(
        self, intent: dict[str, Any], code: str, decline: str, message: str
    ) -> dict[str, Any]:
        intent["status"] = "requires_payment_method"
        error = _error_object("card_error", code, decline, message)
        intent["last_payment_error"] = error
        raise StripeFailure(402, {**error, "payment_intent": _public(intent)})

    def _capture(self, intent: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        if intent["status"] != "requires_capture":
            raise _unexpected_state(intent, "capture")
        amount = int(params.get("amount_to_capture") or intent["amount_capturable"])
        if amount > intent["amount_capturable"]:
            raise StripeFailure(
                400,
                _error_object(
                    "invalid_request_error",
                    "amount_too_large",
                    None,
                    "amount_to_capture is greater than amount_capturable",
                ),
            )
        intent["status"] = "succeeded"
        intent["amount_received"] = amount
        intent["amount_capturable"] = 0
        return _public(intent)

    def _cancel(self, intent: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        cancellable = (
            "requires_payment_method",
            "requires_capture",
            "requires_confirmation",
            "requires_action",
        )
        if intent["status"] not in cancellable:
            raise _unexpected_state(intent, "cancel")
        intent["status"] = "canceled"
        intent["amount_capturable"] = 0
        intent["next_action"] = None
        intent["cancellation_reason"] = params.get("cancellation_reason")
        return _public(intent)

    def _refund(self, params: dict[str, Any]) -> dict[str, Any]:
        intent_id = params.get("payment_intent", "")
        intent = self.intents.get(intent_id)
        if intent is None:
            raise_missing("payment_intent", intent_id)
        assert intent is not None
        if intent["status"] != "succeeded":
            raise StripeFailure(
                400,
                _error_object(
                    "invalid_request_error",
                    "payment_intent_unexpected_state",
                    None,
                    f"This PaymentIntent ({intent_id}) has no successful charge to refund.",
                ),
            )
        left = intent["amount_received"] - intent["_refunded"]
        amount = int(params.get("amount") or left)
        if amount > left:
            code = "charge_already_refunded" if left == 0 else "amount_too_large"
            raise StripeFailure(
                400,
                _error_object(
                    "invalid_request_error",
                    code,
                    "amount",
                    f"Refund amount ({amount}) is greater than unrefunded amount ({left})",
                ),
            )
        intent["_refunded"] += amount
        refund = {
            "id": "re_" + secrets.token_hex(12),
            "object": "refund",
            "amount": amount,
            "charge": intent["latest_charge"],
            "created": int(time.time()),
            "currency": intent["currency"],
            "metadata": params.get("metadata", {}),
            "payment_intent": intent_id,
            "reason": params.get("reason"),
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        return refund

    # ---------------------------------------------------------------- the bank's page

    def _authenticate_page(
        self, handler: BaseHTTPRequestHandler, method: str, path: str, params: dict[str, Any]
    ) -> None:
        intent_id = path.rsplit("/", 1)[-1]
        intent = self.intents.get(intent_id)
        if intent is None:
            return _send(handler, 404, {"error": {"message": "unknown payment"}})
        if method == "GET":
            page = (
                f"<html><body><h1>3D Secure test payment</h1><p>{intent['amount']} "
                f"{intent['currency'].upper()}</p><form method=post><button name=outcome "
                "value=succeed>Complete</button><button name=outcome value=fail>Fail"
                "</button></form></body></html>"
            ).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(page)))
            handler.end_headers()
            handler.wfile.write(page)
            return None
        return_url = ((intent.get("next_action") or {}).get("redirect_to_url") or {}).get(
            "return_url", ""
        )
        self.complete_authentication(intent_id, succeed=params.get("outcome") != "fail")
        handler.send_response(303)
        handler.send_header("Location", f"{return_url}?payment_intent={intent_id}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return None

    def _event(self, event_type: str, intent: dict[str, Any]) -> dict[str, Any]:
        event = {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "data": {"object": _public(intent)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        self.events.append(event)
        return event


def raise_missing(kind: str, ident: str) -> None:
    raise StripeFailure(
        404,
        _error_object(
            "invalid_request_error", "resource_missing", "id", f"No such {kind}: '{ident}'"
        ),
    )


def _unexpected_state(intent: dict[str, Any], action: str) -> StripeFailure:
    error = _error_object(
        "invalid_request_error",
        "payment_intent_unexpected_state",
        None,
        f"You cannot {action} this PaymentIntent because it has a status of {intent['status']}.",
    )
    return StripeFailure(400, {**error, "payment_intent": _public(intent)})


def _error_object(kind: str, code: str, decline: str | None, message: str) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "code": code, "message": message}
    if decline is not None and kind == "card_error":
        error["decline_code"] = decline
    elif decline is not None:
        error["param"] = decline
    return error


def _payment_method(method_id: str) -> dict[str, Any]:
    if not method_id.startswith("pm_"):
        raise_missing("PaymentMethod", method_id)
    return {
        "id": method_id,
        "object": "payment_method",
        "type": "card",
        "customer": None,
        "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034},
        "livemode": False,
    }


def _unknown(params: dict[str, Any]) -> dict[str, Any]:
    raise StripeFailure(
        404, {"type": "invalid_request_error", "message": "Unrecognized request URL"}
    )


def _public(intent: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in intent.items() if not k.startswith("_")}


def _send(
    handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any], replayed: bool = False
) -> None:
    raw = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    handler.send_header("Request-Id", "req_" + secrets.token_hex(7))
    if replayed:
        handler.send_header("Idempotent-Replayed", "true")
    handler.end_headers()
    handler.wfile.write(raw)
