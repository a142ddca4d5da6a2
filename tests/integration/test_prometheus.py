"""The shipped Prometheus rules and Grafana dashboard against the real Prometheus (Debian's),
scraping the real netevd in a lab namespace every second.

netevd runs with the systemd-networkd backend against a fake org.freedesktop.network1 on a
private bus, so the backend can be made to go away; a carrier flap runs scripts, one of which
fails. Prometheus listens on the namespace's loopback only and sends nothing anywhere (no
alertmanager). The rules are the shipped file with only the alerts' ``for:`` shortened
(:func:`lab.prometheus.render_rules`); the shipped waits are tested by promtool
(tests/unit/test_observability_files.py).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lab import Lab, host_peer, wait_until
from lab.fakes import FakeNetwork1
from lab.http import API_PORT
from lab.netevd import ScriptDirs
from lab.prometheus import (
    JOB,
    PROMETHEUS,
    PrometheusApi,
    PrometheusServer,
    dashboard_queries,
    grafana_expr,
    label_values_query,
    metric_names,
    render_rules,
    rule_expressions,
    scraped_names,
)

pytestmark = [
    pytest.mark.dbus,
    pytest.mark.skipif(
        not Path(PROMETHEUS).exists(), reason="needs Debian's prometheus (make test installs it)"
    ),
]

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "netevd-rules.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "netevd.json"
HOLD = "3s"  # every alert's `for:` in the test (evaluations are 1 s apart)
TARGET = f"127.0.0.1:{API_PORT}"
NETWORKD = {"backend": "systemd-networkd"}
FAIL = "#!/bin/sh\necho 'no route to the monitoring host' >&2\nexit 3\n"


@pytest.fixture
async def world(lab, tmp_path, private_bus):
    built = await lab(host_peer(["10.231.60.1/24"], ["10.231.60.2/24"], index=40, peer_index=41))
    async with FakeNetwork1(private_bus.address) as fake:
        fake.add_link(40, "eth0", OperationalState="routable", AdministrativeState="configured")
        yield built, fake, private_bus


@contextlib.asynccontextmanager
async def scraping(built: Lab, workdir: Path) -> AsyncIterator[PrometheusApi]:
    """Prometheus in the host namespace, scraping the netevd there, with the shipped rules."""
    rules = render_rules(RULES, workdir / "netevd-rules.yml", hold=HOLD)
    server = PrometheusServer(
        built.ns("host"), workdir / "prometheus", [TARGET], rule_files=[rules]
    )
    await built.start_process(server)
    try:
        await server.wait_ready()
        async with PrometheusApi(built.ns("host"), server.port) as api:
            yield api
    finally:
        await server.stop()


def scraped(prom: PrometheusApi, value: str = "1") -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        found = await prom.query(f'up{{job="{JOB}"}}')
        return bool(found) and found[0]["value"][1] == value

    return check


def alert(prom: PrometheusApi, name: str, state: str) -> Callable[[], Awaitable[Any]]:
    async def check() -> dict[str, Any] | None:
        found = [a for a in await prom.alerts(name) if a["state"] == state]
        return found[0] if found else None

    return check


def labels(alert: str, severity: str, **more: str) -> dict[str, str]:
    """The labels an alert of the shipped rules carries for this netevd."""
    return {"alertname": alert, "severity": severity, "job": JOB, "instance": TARGET, **more}


async def rules_evaluated(prom: PrometheusApi) -> bool:
    """Every rule evaluated at least once, and without an error."""
    rules = await prom.rules()
    bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    if any(error for _, error in bad):
        raise AssertionError(f"rules that fail to evaluate: {bad}")
    return bool(rules) and not bad


async def pending_then_firing(prom: PrometheusApi, name: str) -> dict[str, Any]:
    """Alert *name* seen pending, then firing: the same alert (activeAt), held for ``for:``."""
    pending = await wait_until(alert(prom, name, "pending"), 30)
    firing: dict[str, Any] = await wait_until(alert(prom, name, "firing"), 30)
    assert firing["activeAt"] == pending["activeAt"]
    return firing


async def quiet(prom: PrometheusApi) -> None:
    """Prometheus scrapes netevd, every rule has been evaluated, and nothing alerts."""
    await wait_until(scraped(prom), 30, message="Prometheus scrapes netevd")
    await wait_until(lambda: rules_evaluated(prom), 30, message="every rule evaluated")
    assert await prom.alerts() == []


def recorders_and_a_failure(root: Path) -> ScriptDirs:
    """Recorders in carrier.d and no-carrier.d, and a carrier.d script that exits 3."""
    scripts = ScriptDirs(root)
    scripts.add("carrier")
    scripts.add("no-carrier")
    scripts.add_raw("carrier", "60-fail", FAIL)
    return scripts


async def test_a_backend_that_goes_down_fires_its_alert_then_netevd_down_fires(
    world, netevd, tmp_path, wait_until
):
    built, fake, bus = world
    daemon = await netevd(
        built, ScriptDirs(tmp_path / "scripts"), api=True, env=bus.env, system=NETWORKD
    )
    async with scraping(built, tmp_path) as prom:
        await quiet(prom)

        await fake.stop()  # networkd leaves the bus
        await daemon.proc.wait_for_log(r"source\.down source=systemd-networkd")
        firing = await pending_then_firing(prom, "NetevdSourceDown")
        assert firing["labels"] == labels("NetevdSourceDown", "critical", source="systemd-networkd")
        assert firing["annotations"]["summary"] == (
            f"netevd on {TARGET}: source systemd-networkd is down"
        )
        assert {a["labels"]["alertname"] for a in await prom.alerts()} == {"NetevdSourceDown"}

        await daemon.proc.stop()  # and now netevd itself
        await wait_until(scraped(prom, "0"), 30, message="the scrape to fail")
        firing = await pending_then_firing(prom, "NetevdDown")
        assert firing["labels"]["instance"] == TARGET


def regex_of(values: list[str]) -> str:
    """A multi-value variable as Grafana puts it into a =~ matcher: regex characters escaped,
    and the escapes escaped again for the PromQL string."""
    return "|".join(re.escape(v).replace("\\", "\\\\") for v in values)


async def variables(prom: PrometheusApi, board: dict[str, Any]) -> dict[str, str]:
    """The dashboard's query variables, resolved in order as Grafana does."""
    found: dict[str, str] = {}
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        label, match = label_values_query(variable["query"]["query"]) or ("", None)
        values = await prom.label_values(label, grafana_expr(match, found) if match else None)
        assert values, f"variable {variable['name']}: no values"
        found[variable["name"]] = regex_of(values)
    return found


async def test_every_dashboard_query_returns_series(world, netevd, tmp_path, wait_until):
    built, _, bus = world
    scripts = recorders_and_a_failure(tmp_path / "scripts")
    daemon = await netevd(built, scripts, api=True, env=bus.env, system=NETWORKD)
    board = json.loads(DASHBOARD.read_text())
    async with scraping(built, tmp_path) as prom:
        await wait_until(scraped(prom), 30, message="Prometheus scrapes netevd")
        # a carrier flap after the first scrape: counters that move, scripts that run and fail
        await built.run("peer", "ip", "link", "set", "eth0", "down")
        await scripts.wait_for(STATE="no-carrier", NETEVD_REPLAY="0")
        await built.run("peer", "ip", "link", "set", "eth0", "up")
        await scripts.wait_for(STATE="carrier", NETEVD_REPLAY="0")
        values = await variables(prom, board)
        assert values == {"job": JOB, "instance": regex_of([TARGET])}
        queries = [(w, e) for w, e in dashboard_queries(board) if not label_values_query(e)]
        assert len(queries) >= 20
        for where, expr in queries:
            promql = grafana_expr(expr, values)

            async def answered(promql: str = promql) -> list[dict[str, Any]]:
                return await prom.query(promql)

            await wait_until(answered, 30, message=f"{where}: {promql} returns series")
        # what the flap did shows in the panels' recorded series
        failures = await prom.query(
            'instance_state_reason:netevd_script_failures:rate5m{state="carrier", reason="exit"}'
        )
        assert float(failures[0]["value"][1]) > 0
        (p95,) = await prom.query("instance:netevd_script_duration_seconds:p95_5m")
        assert not math.isnan(float(p95["value"][1]))
        # no query names a metric this netevd's /metrics does not hold
        live = scraped_names(await daemon.http.text("/metrics"))
        used = {n for _, expr in dashboard_queries(board) for n in metric_names(expr)}
        used |= {n for expr in rule_expressions(RULES).values() for n in metric_names(expr)}
        assert {"netevd_events_total", "netevd_script_duration_seconds_bucket"} <= used
        assert used - live == set()


async def test_failing_scripts_fire_their_alert_naming_the_directory(
    world, netevd, tmp_path, wait_until
):
    """More than 3 failures of carrier.d in 10 minutes: NetevdScriptsFailing, pending then
    firing, for carrier only (no-carrier.d's scripts succeed)."""
    built, _, bus = world
    scripts = recorders_and_a_failure(tmp_path / "scripts")
    daemon = await netevd(built, scripts, api=True, env=bus.env, system=NETWORKD)
    async with scraping(built, tmp_path) as prom:
        await quiet(prom)
        for flap in range(1, 5):  # four carrier.d runs after the first scrape, each failing
            await built.cycle_carrier("peer", "eth0", "host", "eth0")
            await scripts.wait_for(flap, STATE="carrier", NETEVD_REPLAY="0")
        await daemon.proc.wait_for_count(r"script\.failed .*exit=3", 5)  # with the replay's
        firing = await pending_then_firing(prom, "NetevdScriptsFailing")
        assert firing["labels"] == labels("NetevdScriptsFailing", "warning", state="carrier")
        assert float(firing["value"]) > 3
        assert {a["labels"]["alertname"] for a in await prom.alerts()} == {"NetevdScriptsFailing"}
