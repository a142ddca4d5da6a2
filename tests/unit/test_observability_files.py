"""The Prometheus rules and the Grafana dashboard as data: promtool checks the rules and runs
their unit cases, every metric they read is one netevd exports, every recorded series the
dashboard reads is recorded, and the dashboard is a Grafana model that imports as it is.
Running them against a live Prometheus and netevd is tests/integration/test_prometheus.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.prometheus import (
    dashboard_queries,
    grafana_expr,
    label_values_query,
    metric_names,
    recorded_names,
    rule_expressions,
)
from netevd.core.config import MonitoringConfig
from netevd.core.state import State
from netevd.telemetry.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "netevd-rules.yml"
RULE_TESTS = REPO / "tests" / "unit" / "prometheus" / "netevd-rules.test.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "netevd.json"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
# The sample names prometheus_client writes for each family type (besides *_created).
SAMPLES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "info": ("_info",),
}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

needs_promtool = pytest.mark.skipif(
    not Path(PROMTOOL).exists(), reason="needs Debian's prometheus (make test installs it)"
)


def exported() -> set[str]:
    """Every sample name netevd's registry can write, whether or not it has a series yet."""
    metrics = Metrics()
    metrics.bind_state(State, MonitoringConfig)
    return {
        family.name + suffix
        for family in metrics.registry.collect()
        for suffix in SAMPLES[family.type]
    }


def dashboard() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return found


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, check=False, timeout=120
    )


@needs_promtool
def test_promtool_checks_the_shipped_rules():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_expressions(RULES))} rules found" in result.stdout


@needs_promtool
def test_the_rules_unit_cases_pass():
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_and_recording_rule_has_unit_cases():
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    alerts = {c["alertname"] for t in cases for c in t.get("alert_rule_test", ())}
    exprs = {c["expr"] for t in cases for c in t.get("promql_expr_test", ())}
    shipped = yaml.safe_load(RULES.read_text())["groups"]
    rules = [rule for group in shipped for rule in group["rules"]]
    assert alerts == {r["alert"] for r in rules if "alert" in r}
    assert exprs == {r["record"] for r in rules if "record" in r}
    for case in cases:  # each alert is shown both quiet and firing
        tests = case.get("alert_rule_test", ())
        assert not tests or any(not t["exp_alerts"] for t in tests), case["name"]
        assert not tests or any(t["exp_alerts"] for t in tests), case["name"]


def test_every_metric_the_rules_and_the_dashboard_read_is_exported():
    names = exported()
    assert {"netevd_events_total", "netevd_script_duration_seconds_bucket"} <= names
    used = {n for expr in rule_expressions(RULES).values() for n in metric_names(expr)}
    used |= {n for _, expr in dashboard_queries(dashboard()) for n in metric_names(expr)}
    assert used, "no netevd metric found in the rules or the dashboard"
    assert used - names == set()


def test_the_name_extraction_keeps_metrics_and_recorded_series_apart():
    expr = 'sum(instance_type:netevd_events:rate5m) + rate(netevd_events_total{x="netevd_no"}[5m])'
    assert metric_names(expr) == {"netevd_events_total"}
    assert recorded_names(expr) == {"instance_type:netevd_events:rate5m"}
    assert metric_names("up == 0") == set()


def test_every_recorded_series_the_dashboard_reads_is_recorded():
    recorded = {name for name in rule_expressions(RULES) if ":" in name}
    used = {n for _, expr in dashboard_queries(dashboard()) for n in recorded_names(expr)}
    assert used, "the dashboard reads no recording rule"
    assert used <= recorded
    # ...and no recording rule is left that nothing reads
    assert recorded <= used


def test_the_dashboard_is_a_grafana_model_that_imports_as_it_is():
    board = dashboard()
    assert board["uid"] == "netevd"
    assert board["id"] is None  # Grafana gives it one on import
    assert isinstance(board["schemaVersion"], int)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert "__inputs" not in board  # a datasource variable: no import prompt, provisioning works
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(set(refs)) == len(refs), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    for name in ("job", "instance"):
        assert variables[name]["datasource"] == DATASOURCE
        assert label_values_query(variables[name]["query"]["query"])


def test_panels_do_not_overlap():
    taken: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        box = panel["gridPos"]
        cells = {
            (x, y)
            for x in range(box["x"], box["x"] + box["w"])
            for y in range(box["y"], box["y"] + box["h"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path):
    """promtool parses each query (its variables replaced) as the expression of a rule."""
    values = {"job": "netevd", "instance": ".*"}
    rules = []
    for index, (_, expr) in enumerate(dashboard_queries(dashboard())):
        found = label_values_query(expr)
        promql = (found[1] or "up") if found else expr
        rules.append({"record": f"dashboard:query_{index}", "expr": grafana_expr(promql, values)})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
