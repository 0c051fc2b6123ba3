"""The OpenAPI document a client reads: the bearer scheme, a summary and examples on every
operation, every problem answer declared as `application/problem+json`, and 405s that say
which methods a path takes. Built from the real app; the examples are checked against the
document's own schemas."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from api.app import create_app
from settings import Settings

METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings(env="development")).openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Validator:
    registry: Registry = Registry().with_resource("urn:doc", DRAFT202012.create_resource(document))
    return jsonschema.Draft202012Validator(_rebase(schema), registry=registry)


def _rebase(schema: Any) -> Any:
    """`#/components/…` references, pointed at the whole document registered as urn:doc."""
    if isinstance(schema, dict):
        return {
            k: ("urn:doc" + v if k == "$ref" and v.startswith("#/") else _rebase(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema


def test_keyed_operations_use_the_bearer_scheme_and_no_authorization_parameter(
    document: dict[str, Any],
) -> None:
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    rmas = document["paths"]["/v1/rmas"]["post"]
    assert rmas["security"] == [{"bearerAuth": []}]
    # A document opens with a key or with the case's token: the key is optional there.
    assert document["paths"]["/v1/documents/{document_id}"]["get"]["security"] == [
        {"bearerAuth": []},
        {},
    ]
    assert document["paths"]["/v1/verify/{code}"]["get"]["security"] == []
    for method, path, operation in operations(document):
        names = [p["name"].lower() for p in operation.get("parameters", [])]
        assert "authorization" not in names, f"{method} {path}"


def test_every_operation_has_a_summary_and_examples_that_fit_their_schemas(
    document: dict[str, Any],
) -> None:
    assert document["paths"]["/v1/rmas"]["post"]["summary"].startswith("Authorize a return")
    checked = 0
    for method, path, operation in operations(document):
        assert operation.get("summary"), f"{method} {path} has no summary"
        holders = [operation.get("requestBody", {})] + [
            r for code, r in operation["responses"].items() if code.startswith("2")
        ]
        for holder in holders:
            for media_type, entry in (holder.get("content") or {}).items():
                if "json" not in media_type or not entry.get("schema"):
                    continue
                assert "example" in entry, f"{method} {path} {media_type} has no example"
                errors = list(validator(document, entry["schema"]).iter_errors(entry["example"]))
                assert not errors, f"{method} {path}: {errors[0].message}"
                checked += 1
    assert checked > 100


def test_problem_answers_are_declared_as_problem_json(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert "503" in responses, f"{method} {path}"
        if operation.get("security") == [{"bearerAuth": []}]:
            assert {"401", "403"} <= responses.keys(), f"{method} {path}"
        if "{" in path:
            assert "404" in responses, f"{method} {path}"
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= responses.keys(), f"{method} {path}"
        for code, response in responses.items():
            if int(code) >= 400:
                content = response["content"]["application/problem+json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
                assert content["example"]["status"] == int(code)
    signed = document["paths"]["/v1/carrier-events"]["post"]["responses"]
    assert "401" in signed


async def test_405_names_every_method_of_the_path_and_is_a_problem() -> None:
    app = create_app(Settings(env="development"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.request("TRACE", "/v1/rmas")
        assert answer.status_code == 405
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "method_not_allowed"
        # GET and POST /v1/rmas are two routes; the router alone named only the first.
        assert set(answer.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
        answer = await http.request("DELETE", "/v1/rmas/RMA-2026-AAAA-BBBB-CCCC-DDDD")
        assert answer.status_code == 405
        assert set(answer.headers["allow"].split(", ")) == {"GET", "HEAD"}
