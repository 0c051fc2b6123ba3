"""The pieces of logging and tracing that decide something: what the scrubber takes out and
what it leaves, when tracing is on, which case an activity works for, which request id a
request gets, and that one JSON line per record reaches the log with its context."""

from __future__ import annotations

import base64
import io
import json
import logging
import random
import secrets

import pytest
import structlog

from api.auth import new_key
from api.request_log import request_id_from
from api.routes.webhooks import new_secret
from domain.ids import new_case_id, new_tracking_token, rma_workflow_id
from observability.activity_log import case_id_of
from observability.logging import configure_logging
from observability.scrub import REDACTED, Scrubber, known_secrets
from observability.tracing import resource_for, tracing_wanted
from settings import Settings
from tests.support import ADMIN_KEY, CARRIER_SECRET, PAYLOAD_KEY, SECRETS_KEY

scrub = Scrubber().text


def test_a_bare_tracking_token_is_taken_out_anywhere() -> None:
    # Drawn as domain.ids draws them, from a seeded generator: the same thousand every run.
    draw = random.Random(19)
    made = [base64.urlsafe_b64encode(draw.randbytes(24)).decode() for _ in range(1000)]
    assert len(new_tracking_token()) == len(made[0])
    for token in made:
        assert token not in scrub(f"IntegrityError: ('{token}', 'RMA-2026-AAAA-BBBB-CCCC-DDDD')")


@pytest.mark.parametrize(
    "text",
    [
        "GET /track/{t} HTTP/1.1",
        "/v1/track/{t}/quote",
        "/v1/documents/DOC1?token={t}&x=1",
        "Authorization: Bearer {t}",
    ],
)
def test_a_token_in_a_url_or_header_is_taken_out(text: str) -> None:
    token = "short-but-still-a-token"
    assert token not in scrub(text.format(t=token))
    assert REDACTED in scrub(text.format(t=token))


def test_issued_keys_and_secrets_are_taken_out() -> None:
    for secret in (new_key(), new_secret(), "sk_live_" + secrets.token_hex(12), "EZAK" + "a1" * 8):
        assert secret not in scrub(f"refused {secret}."), secret
    assert scrub("smtp://mailer:hunter2@mail.example:587") == (
        f"smtp://mailer:{REDACTED}@mail.example:587"
    )


def test_configured_secrets_are_taken_out_by_value() -> None:
    scrubber = Scrubber(known_secrets(ADMIN_KEY, CARRIER_SECRET, PAYLOAD_KEY, SECRETS_KEY))
    for value in (ADMIN_KEY, CARRIER_SECRET, PAYLOAD_KEY.split(":")[1]):
        assert value not in scrubber.text(f"x {value} y")


def test_what_identifies_without_granting_is_kept() -> None:
    case_id = new_case_id("RMA", 2026)
    kept = [
        case_id,
        rma_workflow_id(case_id),
        f"webhooks:{secrets.token_hex(16)}:{case_id}",
        secrets.token_hex(16),  # request ids, trace ids, org ids
        "01a23164-580a-70f4-bf73-66520d44cbcb",  # run ids
        "DefaultFailureConverterWithEncodedAttributes",
        "{'task_queue': 'aftersales', 'activity_type': 'render_and_project'}",
        "/v1/rmas/" + case_id + "/receive",
        "Basic plan",
        "GET /track/{token}",  # a route's template, the span's name
    ]
    for text in kept:
        assert scrub(text) == text


def test_fields_named_as_secrets_are_redacted_whatever_they_hold() -> None:
    event = Scrubber().mapping(
        {"tracking_token": "abc", "api_key": "k", "password": "p", "key_id": "id1", "n": 3}
    )
    assert event == {
        "tracking_token": REDACTED,
        "api_key": REDACTED,
        "password": REDACTED,
        "key_id": "id1",
        "n": 3,
    }


@pytest.mark.parametrize(
    ("explicit", "env", "wanted"),
    [
        (None, {}, False),
        (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        (None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        (None, {"OTEL_TRACES_EXPORTER": "otlp"}, True),
        (None, {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, False),
        (None, {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        (False, {"OTEL_TRACES_EXPORTER": "otlp"}, False),
        (True, {}, True),
    ],
)
def test_tracing_is_off_unless_asked(
    explicit: bool | None, env: dict[str, str], wanted: bool
) -> None:
    assert tracing_wanted(explicit, env) is wanted


def test_an_activity_names_its_case_from_the_workflow_id() -> None:
    case_id = new_case_id("REP", 2026)
    assert case_id_of(f"repair:{case_id}") == case_id
    assert case_id_of(f"webhooks:{secrets.token_hex(16)}:{case_id}") == case_id
    assert case_id_of("some-other-workflow") is None
    assert case_id_of(None) is None


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (b"abc-123", True),
        (b"req:2026.12.01_7", True),
        (b"two words", False),
        (b"x" * 65, False),
        (b'"quoted"', False),
        (b"", False),
    ],
)
def test_a_request_id_is_the_callers_when_sane(sent: bytes, kept: bool) -> None:
    chosen = request_id_from({"headers": [(b"x-request-id", sent)]})
    assert (chosen == sent.decode()) is kept
    if not kept:
        assert len(chosen) == 32


def test_every_record_is_one_scrubbed_json_line_with_its_context() -> None:
    out = io.StringIO()
    settings = Settings(
        env="test",
        admin_key=ADMIN_KEY,
        carrier_secret=CARRIER_SECRET,
        payload_key=PAYLOAD_KEY,
        secrets_key=SECRETS_KEY,
        log_level="DEBUG",
    )
    token = new_tracking_token()
    root = logging.getLogger()
    previous = (list(root.handlers), root.level)
    try:
        configure_logging(settings, out)
        with structlog.contextvars.bound_contextvars(request_id="r-1"):
            structlog.get_logger("ours").info("request", path=f"/track/{token}")
            logging.getLogger("uvicorn.error").warning("refused %s", f"/track/{token}")
            logging.getLogger("sqlalchemy.engine").info("SELECT %s", token)  # kept quiet
            try:
                raise ValueError(f"no case for {token}")
            except ValueError:
                structlog.get_logger("ours").exception("failed")
    finally:
        structlog.reset_defaults()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in previous[0]:
            root.addHandler(handler)
        root.setLevel(previous[1])
    written = out.getvalue()
    assert token not in written
    records = [json.loads(line) for line in written.splitlines()]
    assert [r["event"] for r in records] == ["request", f"refused /track/{REDACTED}", "failed"]
    assert all(r["request_id"] == "r-1" for r in records)
    assert "ValueError" in records[2]["exception"]


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({}, "aftersales-api"),
        ({"OTEL_SERVICE_NAME": ""}, "aftersales-api"),  # compose's unset variable
        ({"OTEL_SERVICE_NAME": "returns-api"}, "returns-api"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=edge,team=ops"}, "edge"),
    ],
)
def test_the_resource_is_named_by_otel_variables_else_by_the_process(
    env: dict[str, str], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    resource = resource_for("aftersales-api", Settings(env="development"))
    assert resource.attributes["service.name"] == name
    assert resource.attributes["deployment.environment.name"] == "development"
