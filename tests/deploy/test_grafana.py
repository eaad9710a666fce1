"""docker/grafana/nightowl.json queries only what a real server exports: every metric name in
its expressions, and every label they group or name series by."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from nightowl.service.serving.gpu_metrics import LABELS, GpuCollector
from tests.serving import png, running, sequence

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = json.loads((ROOT / "docker" / "grafana" / "nightowl.json").read_text())
SCRAPE = {"instance", "job"}  # labels Prometheus adds to every series it scrapes
FUNCTION = re.compile(r"\b[a-z_]+\s*\(")  # a function, or by/without's label list
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("_total",), "info": ("_info",)}


def expressions() -> list[str]:
    return [target["expr"] for panel in DASHBOARD["panels"] for target in panel["targets"]]


def names_and_labels(expr: str) -> tuple[set[str], set[str]]:
    """The metric names an expression selects, and the labels it groups by or matches."""
    grouped = {label.strip() for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr)
               for label in group.split(",")}
    matched = set(re.findall(r"(\w+)\s*=~?", "".join(re.findall(r"\{[^}]*\}", expr))))
    bare = re.sub(r"\b(?:by|without)\s*\([^)]*\)|\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", " ", expr)
    bare = FUNCTION.sub(" ", bare)
    return set(re.findall(r"\b[a-zA-Z_:][\w:]*\b", bare)), grouped | matched


def exported(text: str) -> dict[str, set[str]]:
    """{sample name: its label names} of an exposition, labelled children or not."""
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for suffix in SUFFIXES.get(family.type, ("",)):
            found.setdefault(family.name + suffix, set())
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


@pytest.fixture(scope="module")
def served(engines) -> dict[str, set[str]]:
    """What a real server exports after a frame over REST, and the GPU families (this host may
    have no GPU: their names and labels come from the collector that exports them)."""
    frames = sequence(5, 0)
    files = [("frames", (f"{i}.png", png(f), "image/png")) for i, f in enumerate(frames)]
    with running(engines) as server:
        assert httpx.post(server.url + "/enhance", files=files).status_code == 200
        bad = [("frames", ("0.png", b"\x89PNG\r\n\x1a\n", "image/png"))]
        assert httpx.post(server.url + "/enhance", files=bad).status_code >= 400
        found = exported(httpx.get(server.url + "/metrics").text)
    for family in GpuCollector(None, []).describe():
        found[family.name] = set(LABELS)
    return found


def test_every_metric_the_dashboard_queries_is_exported(served):
    used = set()
    for expr in expressions():
        names, _ = names_and_labels(expr)
        assert names, expr
        used |= names
    assert not used - set(served), f"queried, not exported: {sorted(used - set(served))}"
    assert {"nightowl_inference_queue_seconds_bucket", "nightowl_inference_compute_seconds_bucket",
            "nightowl_gpu_utilization", "process_resident_memory_bytes"} <= used


def test_every_label_the_dashboard_uses_is_on_the_metrics_it_queries(served):
    for panel in DASHBOARD["panels"]:
        for target in panel["targets"]:
            names, labels = names_and_labels(target["expr"])
            legend = set(re.findall(r"\{\{(\w+)\}\}", target.get("legendFormat", "")))
            have = set.union(*(served[name] for name in names)) | SCRAPE
            assert labels | legend <= have, (panel["title"], (labels | legend) - have)


def test_the_parser_finds_names_and_labels():
    names, labels = names_and_labels('histogram_quantile(0.99, sum by (le, model) '
                                     '(rate(a_seconds_bucket{instance=~"$i"}[5m]))) / b_total')
    assert (names, labels) == ({"a_seconds_bucket", "b_total"}, {"le", "model", "instance"})
