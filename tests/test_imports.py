"""Workflows import domain and activity stubs, nothing heavier (architecture.md): the
sandbox re-imports what is not passed through, and a workflow that could reach SQLAlchemy or
httpx could do I/O from workflow code."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import workflows

ROOT = Path(__file__).resolve().parent.parent

# Libraries of the activities, the API and the documents: none may load with a workflow.
HEAVY = ("sqlalchemy", "httpx", "httpcore", "reportlab", "fastapi", "aiosqlite", "psycopg")

_PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(modules: list[str]) -> set[str]:
    """The modules a fresh interpreter holds after importing `modules`."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(done.stdout))


def workflow_modules() -> list[str]:
    return sorted(f"workflows.{info.name}" for info in pkgutil.iter_modules(workflows.__path__))


def test_the_probe_sees_what_an_import_loads() -> None:
    # The worker does load them: were the probe blind, the test below would prove nothing.
    loaded = loaded_by(["worker"])
    assert {"sqlalchemy", "httpx", "reportlab"} <= loaded


def test_importing_every_workflow_module_loads_no_heavy_library() -> None:
    modules = workflow_modules()
    assert "workflows.rma" in modules
    loaded = loaded_by(modules)
    heavy = sorted(
        name for name in loaded if name.split(".")[0] in HEAVY or name == "temporalio.client"
    )
    assert heavy == [], f"workflows load {heavy}"
