"""The API answers as its OpenAPI document says, measured from outside with schemathesis
against the live stack: every check but positive-data acceptance (a generated body that fits
the schema may still break a business rule, and its 422 is right). So every status code,
content type and header an operation answers with is declared, a method a path does not take
is a 405 with `Allow`, a value of the wrong type is refused, and nothing is a 5xx.

Every operation the running app serves is in it (the document is read from the server, so a
route added tomorrow is covered without a word here). Deterministic: one seed, a bounded
number of examples per operation, no example database, one worker."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import add_product, make_org
from tests.support import Stack

ST = str(Path(sys.executable).parent / "st")
SEED = 20261220
EXAMPLES = int(os.environ.get("AFTERSALES_OPENAPI_EXAMPLES", "2"))


def _schemathesis(base_url: str, key: str, report: Path) -> subprocess.CompletedProcess[str]:
    command = [
        ST,
        "run",
        f"{base_url}/openapi.json",
        "--exclude-checks",
        "positive_data_acceptance",
        "--phases",
        "examples,coverage,fuzzing",
        # The JSON API, every operation of it; the HTML pages have their own browser tests.
        "--include-path-regex",
        "^/v1/",
        "--header",
        f"Authorization: Bearer {key}",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        # One worker: CPython 3.11's ast.parse is not thread-safe, and hypothesis parses
        # lambdas while schemathesis generates from several threads.
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=report.parent,  # schemathesis keeps its state in the working directory
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )


@pytest.mark.e2e
async def test_every_operation_answers_as_its_document_says(stack: Stack, tmp_path: Path) -> None:
    if stack.backend != "sqlite":
        pytest.skip("the document is the same on both databases; measured once")
    retailer = await make_org(stack, "retailer")
    # The examples name SPK-1: with it in the catalog they reach the workflows.
    await add_product(stack, retailer, sku="SPK-1")
    report = tmp_path / "openapi.xml"
    result = await asyncio.to_thread(_schemathesis, stack.base_url, retailer.key, report)
    failing = [line for line in result.stdout.splitlines() if re.match(r"^_+ [A-Z]+ /", line)]
    assert result.returncode == 0, "\n".join(failing) + "\n" + result.stdout[-12000:]

    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        document = (await http.get("/openapi.json")).json()
    served = {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if path.startswith("/v1/") and method in {"get", "put", "post", "delete", "patch"}
    }
    tested = {case.get("name", "") for case in ET.parse(report).getroot().iter("testcase")}
    assert served <= tested, f"not exercised: {sorted(served - tested)}"
