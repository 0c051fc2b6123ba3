"""deploy/grafana/aftersales.json: a Grafana dashboard Grafana can import or provision (its
model's required fields, panels on the 24-column grid without overlap, every query on the
dashboard's Prometheus variable), whose every query names metrics we export: ours are
checked against the registry here; the Temporal SDK's against a real scrape in
tests/api/test_metrics_e2e.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

import observability.metrics  # noqa: F401  (registers our metrics)

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "aftersales.json"
_METRIC = re.compile(r"\b(?:aftersales|temporal)_[A-Za-z0-9_]+")
_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "gauge": ("",),
}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def queries() -> list[str]:
    return [
        target["expr"]
        for panel in dashboard()["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


def metric_names() -> set[str]:
    """Every metric any query of the dashboard reads."""
    return {name for expr in queries() for name in _METRIC.findall(expr)}


def exported_by_us() -> set[str]:
    """The sample names our registry exposes, whether or not a sample exists yet."""
    names: set[str] = set()
    for family in REGISTRY.collect():
        if family.name.startswith("aftersales_"):
            names |= {family.name + suffix for suffix in _SUFFIXES[family.type]}
    return names


def test_the_dashboard_is_a_grafana_dashboard_model() -> None:
    model = dashboard()
    assert model["title"] == "aftersales"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", model["uid"])
    assert isinstance(model["schemaVersion"], int)
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in model["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in model["panels"]:
        box = panel["gridPos"]
        assert box["x"] >= 0 and box["x"] + box["w"] <= 24, panel["title"]
        covered = {
            (x, y)
            for x in range(box["x"], box["x"] + box["w"])
            for y in range(box["y"], box["y"] + box["h"])
        }
        assert not covered & cells, f"{panel['title']} overlaps another panel"
        cells |= covered
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat"}
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert ref_ids and len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert _METRIC.search(target["expr"]), f"{panel['title']} reads no metric of ours"


def test_every_query_of_ours_names_a_metric_we_export() -> None:
    ours = {name for name in metric_names() if name.startswith("aftersales_")}
    assert ours, "the dashboard shows none of our metrics"
    assert ours <= exported_by_us(), ours - exported_by_us()


def test_every_metric_we_export_is_on_the_dashboard() -> None:
    shown = metric_names()
    families = {name.removesuffix("_bucket").removesuffix("_total") for name in shown}
    for family in REGISTRY.collect():
        if family.name.startswith("aftersales_"):
            assert family.name in families, f"{family.name} is on no panel"
