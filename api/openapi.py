"""The OpenAPI document at `/openapi.json`, completed for the people and tools that read it.

FastAPI describes each route from its signature; what it cannot see is added here, for every
operation at once, so a route added tomorrow is described like the others without a word:

- the bearer scheme (Swagger's Authorize button): required on every operation that takes an
  API key (`api.deps.principal_dep` declares it), optional on one that reads `Authorization`
  itself (a document opens with a key or with `?token=`), which stops being a parameter;
- the problem responses (`api/errors.py`), as `application/problem+json` with the `Problem`
  schema and an example, by what the operation can meet: 401/403 with a key, 404 with a
  path parameter, 409 for a command, 400 and 413 with a body, 422 with any input, 503 always (the
  database, Temporal or a restart). A route declares anything else it answers with
  `responses={429: {"description": …}}` and gets the same content;
- a summary (the docstring's first line, else FastAPI's from the function's name) and an
  example of every request body and success answer, built from its schema, realistic for
  the field names this API uses.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response

from api.deps import BEARER as BEARER_SECURITY
from api.errors import PROBLEM_JSON, problem_response, problem_title

BEARER: str = BEARER_SECURITY.scheme_name
PROBLEM = "Problem"
COMMAND_METHODS = {"post", "put", "patch", "delete"}
# What a route called by another system with a signature, not a key, adds to its responses.
SIGNED: dict[int | str, dict[str, Any]] = {
    401: {"description": "The signature is missing, stale or wrong (`invalid_signature`)"}
}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": PROBLEM,
    "description": "RFC 9457 problem details. `code` is stable: match on it, not on `detail`.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "a URI naming the problem's `code`"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "for people; may change"},
        "code": {"type": "string", "description": "stable snake_case code"},
        "current_status": {"type": "string", "description": "with `invalid_transition`"},
        "allowed": {
            "type": "array",
            "items": {"type": "string"},
            "description": "with `invalid_transition`: what the case accepts now",
        },
        "errors": {
            "type": "array",
            "items": {"type": "object"},
            "description": "with `validation_error`: each field refused and why",
        },
    },
    "additionalProperties": True,
}

# status: (when, an example code and detail)
_PROBLEMS: dict[int, tuple[str, str, str]] = {
    400: (
        "The body cannot be read (not UTF-8, or not of its Content-Type)",
        "bad_request",
        "There was an error parsing the body",
    ),
    401: ("No valid API key (or signature)", "unauthorized", "a valid API key is required"),
    403: (
        "This kind of key may not do that",
        "forbidden",
        "a repair_center key may not do this",
    ),
    404: (
        "Not found, or another organisation's (never told apart)",
        "not_found",
        "case not found",
    ),
    409: (
        "Refused in the resource's current state, or an Idempotency-Key reused with another "
        "body (`idempotency_conflict`) or still held by a request being processed "
        "(`idempotency_key_in_use`: retry after `Retry-After`)",
        "invalid_transition",
        "the case cannot do that now",
    ),
    413: ("The body is over 1 MiB", "payload_too_large", "the body is over 1048576 bytes"),
    422: (
        "The input is not valid (`validation_error`, `malformed_json`, or a business rule)",
        "validation_error",
        "the request is not valid",
    ),
    429: ("Too many requests; retry after `Retry-After`", "rate_limited", "slow down"),
    503: (
        "Temporal or the database is unavailable, a decision is pending, or the service is "
        "restarting; retry with the same Idempotency-Key",
        "temporal_unavailable",
        "the workflow service cannot be reached",
    ),
}


def install(app: FastAPI) -> None:
    """Serve the completed document (built once, on the first request for it)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # Whatever route is added after this, the document is built on the first request for it.

    @app.exception_handler(405)
    async def _method_not_allowed(request: Request, exc: Exception) -> Response:
        """Allow lists every method the path takes: the router's own 405 names only those
        of the first route it matched (GET and POST /v1/rmas are two routes)."""
        detail = getattr(exc, "detail", "method not allowed")
        response = problem_response(405, "method_not_allowed", str(detail))
        methods = allowed_methods(openapi(), request.url.path)
        allow = ", ".join(sorted(methods)) if methods else getattr(exc, "headers", {}).get("Allow")
        if allow:
            response.headers["Allow"] = allow
        return response


def allowed_methods(document: dict[str, Any], path: str) -> set[str]:
    """The methods the document declares for `path` (HEAD with GET, as the router answers it)."""
    methods: set[str] = set()
    for template, item in document.get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods |= {m.upper() for m in item if m in METHODS}
    if "GET" in methods:
        methods.add("HEAD")
    return methods


def build(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})[PROBLEM] = _PROBLEM_SCHEMA
    components.setdefault("securitySchemes", {}).setdefault(
        BEARER, {"type": "http", "scheme": "bearer"}
    )
    resolver = _Resolver(components["schemas"])
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method in METHODS:
                _complete(method, operation, resolver)
    _drop_unused(components["schemas"], schema)
    return schema


def _complete(method: str, operation: dict[str, Any], resolver: _Resolver) -> None:
    _summarise(operation)
    keyed = any(BEARER in requirement for requirement in operation.get("security", []))
    parameters = operation.get("parameters", [])
    reads_authorization = any(
        p.get("in") == "header" and p.get("name", "").lower() == "authorization" for p in parameters
    )
    parameters = [
        p
        for p in parameters
        if not (p.get("in") == "header" and p.get("name", "").lower() == "authorization")
    ]
    if parameters:
        operation["parameters"] = parameters
    else:
        operation.pop("parameters", None)
    if keyed:
        operation["security"] = [{BEARER: []}]
    elif reads_authorization:
        operation["security"] = [{BEARER: []}, {}]
    else:
        operation["security"] = []

    responses: dict[str, Any] = operation.setdefault("responses", {})
    html = any("text/html" in (r.get("content") or {}) for r in responses.values())
    statuses = {503}
    if keyed or reads_authorization:
        statuses |= {401, 403} if keyed else {401}
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if method in COMMAND_METHODS:
        statuses.add(409)
    if "requestBody" in operation:
        statuses |= {400, 413, 422}
    if parameters:
        statuses.add(422)
    if html and method == "post":
        responses.setdefault("303", {"description": "Done: back to the page (post/redirect/get)"})
    for status in statuses:
        responses.setdefault(str(status), {})
    for code, response in responses.items():
        if code.isdigit() and int(code) >= 400:
            _problem_response(int(code), response, html)
        elif code.startswith("2"):
            _example_answer(response, resolver)
    if body := operation.get("requestBody"):
        _example_answer(body, resolver)


def _problem_response(status: int, response: dict[str, Any], html: bool) -> None:
    when, code, detail = _PROBLEMS.get(status, ("A problem", "error", "see `code`"))
    if not response.get("description") or response["description"] == "Validation Error":
        response["description"] = when
    content = {
        PROBLEM_JSON: {
            "schema": {"$ref": f"#/components/schemas/{PROBLEM}"},
            "example": {
                "type": f"https://aftersales.dev/problems/{code}",
                "title": problem_title(status),
                "status": status,
                "detail": detail,
                "code": code,
            },
        }
    }
    if html:  # a page's own refusals are the page, re-rendered with the reason
        content["text/html"] = {"schema": {"type": "string"}}
    response["content"] = content


def _example_answer(holder: dict[str, Any], resolver: _Resolver) -> None:
    for media_type, entry in (holder.get("content") or {}).items():
        if "json" not in media_type or "example" in entry or "examples" in entry:
            continue
        schema = entry.get("schema")
        if not schema:
            continue
        example = resolver.example(schema)
        if example is not _NOTHING:
            entry["example"] = example


def _summarise(operation: dict[str, Any]) -> None:
    """The docstring's first sentence in place of the one FastAPI makes of the function's
    name ("Get Rma"), when the route has a docstring and set no summary of its own."""
    description = (operation.get("description") or "").strip()
    summary = operation.get("summary", "")
    function = operation.get("operationId", "")
    named = summary.lower().replace(" ", "_")
    if not description or not function.startswith(named + "_"):
        return
    first = description.split("\n\n", 1)[0].replace("\n", " ")
    first = re.split(r"(?<=[.:;])\s", first, maxsplit=1)[0].rstrip(".:;")
    if len(first) <= 120:
        operation["summary"] = first


def _drop_unused(schemas: dict[str, Any], schema: dict[str, Any]) -> None:
    """FastAPI's own 422 schemas, once every 422 is a Problem."""
    used = json.dumps(schema.get("paths", {}))
    if "#/components/schemas/HTTPValidationError" in used:
        return
    schemas.pop("HTTPValidationError", None)
    others = json.dumps({k: v for k, v in schemas.items() if k != "ValidationError"})
    if "#/components/schemas/ValidationError" not in used + others:
        schemas.pop("ValidationError", None)


# ------------------------------------------------------------------------------- examples

_NOTHING = object()

# Values for the field names this API uses, so an example reads like a real request.
_NAMED: dict[str, Any] = {
    "sku": "SPK-1",
    "replacement_sku": "SPK-1",
    "serial": "SN-1",
    "order_ref": "SO-1001",
    "payment_reference": "pi_3PqExample",
    "email": "ada@example.com",
    "phone": "+44 20 7946 0000",
    "line1": "12 Analytical Row",
    "line2": "Flat 2",
    "city": "London",
    "region": "Greater London",
    "postal_code": "N1 9GU",
    "country": "GB",
    "regions": ["GB", "IE"],
    "currency": "USD",
    "amount": "129.99",
    "category": "audio",
    "categories": ["audio"],
    "reason": "defective",
    "fault": "No sound from the left speaker",
    "fault_code": "AMP-01",
    "findings": "Amplifier board failed",
    "part_no": "AMP-BOARD-2",
    "description": "Amplifier board",
    "notes": "Unit as described",
    "note": "",
    "technician": "Grace Hopper",
    "item": "Power cable secured",
    "incident": "breakdown",
    "incidents": ["breakdown", "accidental_damage"],
    "plan_code": "CARE-36",
    "resolution": "refund",
    "coverage": "return_window",
    "outcome": "refunded",
    "direction": "inbound",
    "service": "Ground",
    "grade": "A",
    "payment_method": "pm_ok",
    "url": "https://shop.example.com/hooks/aftersales",
    "events": ["rma.*", "repair.completed"],
    "tracking_number": "1Z999AA10123456784",
    "carrier": "builtin",
    "provider": "builtin",
    "services": ["Priority"],
    "id": "9a1c2e4f6b8d4a0c9e2f4b6d8a0c2e4f",
    "org_id": "9a1c2e4f6b8d4a0c9e2f4b6d8a0c2e4f",
    "provider_org_id": "4b6d8a0c2e4f9a1c2e4f6b8d4a0c9e2f",
    "centers": ["4b6d8a0c2e4f9a1c2e4f6b8d4a0c9e2f"],
    "case_id": "RMA-2026-7KQ2-M4XD-9TNA-3FHV",
    "rma_id": "RMA-2026-7KQ2-M4XD-9TNA-3FHV",
    "repair_id": "REP-2026-7KQ2-M4XD-9TNA-3FHV",
    "replacement_id": "RPL-2026-7KQ2-M4XD-9TNA-3FHV",
    "relocation_id": "REL-2026-7KQ2-M4XD-9TNA-3FHV",
    "service_plan_id": "PLN-2026-7KQ2-M4XD-9TNA-3FHV",
    "verification_code": "V7KQ2M4XD9TNA",
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "tracking_token": "Zq3v1m8yKc0pT4wXr7bN2sHf5dLg6aJe",
    "key": "ask_3v1m8yKc0pT4wXr7bN2sHf5dLg6aJeZq9uWoP1iEt",
    "secret": "whsec_MfKQ9r8GOKmwz5Bx3jW8lA0vV3yH2k",
    "prefix": "ask_3v1m8yK",
    "api_key": "EZAK0123456789abcdef",
    "secret_key": "sk_test_0123456789abcdef",
    "webhook_secret": "whsec_0123456789abcdef",
    "status": "awaiting_return",
    "event": "label_created",
    "actor": "retailer",
}
_NAMED_BY_SCHEMA: dict[tuple[str, str], Any] = {
    ("CustomerIn", "name"): "Ada Lovelace",
    ("AddressIn", "name"): "Ada Lovelace",
    ("OrgCreate", "name"): "Acme Audio",
    ("ProductCreate", "name"): "Bookshelf speaker",
    ("ProductUpdate", "name"): "Bookshelf speaker",
    ("PlanCreate", "name"): "Care 36",
    ("PlanCreate", "code"): "CARE-36",
    ("PlanPublic", "code"): "CARE-36",
    ("PlanTermsIn", "name"): "Care 36",
}
_DURATIONS = {
    "return_window": "P30D",
    "review_timeout": "P7D",
    "return_ship_by": "P14D",
    "quote_valid_for": "P14D",
    "repair_turnaround": "P5D",
    "backorder_max": "P14D",
    "core_return_within": "P30D",
    "grace_period": "P14D",
    "waiting_period": "P14D",
    "cancel_full_refund_within": "P30D",
    "renewal_notice": "P30D",
    "repair_warranty": "P90D",
}
_MOMENT = "2026-11-20T10:00:00Z"


class _Resolver:
    """Examples built from a schema: its own example or default where it has one, the
    field's usual value by name, else one that its type, format and bounds accept."""

    def __init__(self, schemas: dict[str, Any]) -> None:
        self.schemas = schemas

    def example(self, schema: dict[str, Any]) -> Any:
        return self._value(schema, name=None, owner=None, depth=0)

    def _value(
        self, schema: dict[str, Any], name: str | None, owner: str | None, depth: int
    ) -> Any:
        if depth > 24:
            return _NOTHING
        if "$ref" in schema:
            target = schema["$ref"].rsplit("/", 1)[-1]
            found = self.schemas.get(target)
            if found is None:
                return _NOTHING
            return self._value(found, name, target, depth + 1)
        if "example" in schema:
            return copy.deepcopy(schema["example"])
        if schema.get("examples"):
            return copy.deepcopy(schema["examples"][0])
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        for union in ("anyOf", "oneOf"):
            if union in schema:
                options = [o for o in schema[union] if o.get("type") != "null"]
                return self._value(options[0], name, owner, depth + 1) if options else None
        if schema.get("allOf"):
            return self._value(schema["allOf"][0], name, owner, depth + 1)
        kind = schema.get("type")
        if name is not None:
            if (named := _NAMED_BY_SCHEMA.get((owner or "", name))) is not None:
                return named
            if name in _NAMED and self._fits(schema, _NAMED[name]):
                return copy.deepcopy(_NAMED[name])
        if schema.get("default") not in (None, ""):
            return copy.deepcopy(schema["default"])
        if kind == "object" or "properties" in schema:
            return self._object(schema, owner, depth)
        if kind == "array":
            item = self._value(schema.get("items", {}), _singular(name), owner, depth + 1)
            return [] if item is _NOTHING else [item]
        if kind == "string":
            return self._string(schema, name)
        if kind in ("integer", "number"):
            if "minimum" in schema:
                return schema["minimum"]
            if "exclusiveMinimum" in schema:
                return schema["exclusiveMinimum"] + 1
            return 1
        if kind == "boolean":
            return True
        return _NOTHING

    def _object(self, schema: dict[str, Any], owner: str | None, depth: int) -> Any:
        properties: dict[str, Any] = schema.get("properties", {})
        out: dict[str, Any] = {}
        for field, sub in properties.items():
            value = self._value(sub, field, owner, depth + 1)
            if value is not _NOTHING:
                out[field] = value
        return out

    def _string(self, schema: dict[str, Any], name: str | None) -> str:
        fmt = schema.get("format")
        if fmt == "date-time":
            return _MOMENT
        if fmt == "date":
            return _MOMENT[:10]
        if fmt == "duration":
            return _DURATIONS.get(name or "", "P14D")
        if fmt in ("uri", "url"):
            return "https://shop.example.com/hooks/aftersales"
        if fmt == "email":
            return "ada@example.com"
        if name and name.endswith("_at"):
            return _MOMENT
        text = (name or "text").replace("_", " ")
        low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", 200))
        text = text.ljust(low, "x")[:high]
        return text

    def _fits(self, schema: dict[str, Any], value: Any) -> bool:
        """A named value fits the field's type (a `status` may be an enum, a `note` free)."""
        kind = schema.get("type")
        if kind == "string":
            pattern = schema.get("pattern")
            return isinstance(value, str) and (
                pattern is None or re.search(pattern, value) is not None
            )
        if kind == "array":
            return isinstance(value, list)
        if kind is None:
            return not isinstance(value, list)
        return False


def _singular(name: str | None) -> str | None:
    if name is None:
        return None
    irregular = {"categories": "category", "addresses": "address"}
    return irregular.get(name, name[:-1] if name.endswith("s") else name)
