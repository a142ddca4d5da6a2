"""The real Prometheus server (Debian's) in a lab namespace, and what tests read of it.

:class:`PrometheusServer` scrapes targets on the namespace's own loopback (a netevd there)
every second and evaluates its rule files every second; its configuration and storage are in
a work directory, and it listens only on the namespace's 127.0.0.1, on a port free there.
Nothing leaves the namespace: no alertmanager, no remote write. :class:`PrometheusApi` reads
its HTTP API (``/api/v1/query``, ``/api/v1/alerts``) from the root namespace the way
:class:`lab.http.NsApi` reads netevd's.

For the shipped files: :func:`render_rules` writes a rules file with shorter ``for:`` waits
(the shipped one is what promtool tests), :func:`dashboard_queries` lists every query of a
Grafana dashboard, :func:`grafana_expr` gives one with the dashboard's variables replaced and
:func:`metric_names` the netevd_* names it reads; :func:`scraped_names` the sample names a
live ``/metrics`` holds.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from lab.errors import LabError
from lab.http import free_port, ns_session
from lab.process import ManagedProcess

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
JOB = "netevd"  # the job name the shipped alerts select (up{job="netevd"})

# A netevd metric or recorded series name; recorded names (level:metric:operation) hold colons
# and are not netevd_* identifiers of their own.
METRIC_NAME = re.compile(r"(?<![\w:])netevd_[A-Za-z0-9_]*(?![\w:])")
RECORDED_NAME = re.compile(r"\b[a-z_]+:netevd_[a-z0-9_]+:[a-z0-9_]+\b")
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')  # a label value: text, not a name
# Grafana's own functions and variables, which Prometheus does not know.
LABEL_VALUES = re.compile(r"^label_values\((?:(?P<match>.+),\s*)?(?P<label>\w+)\)$")
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}


class PrometheusServer(ManagedProcess):
    """``prometheus`` in namespace *netns*, scraping *targets* (``host:port``) as job *job*;
    it listens on *port*, by default one free in the namespace (:attr:`port` says which)."""

    def __init__(
        self,
        netns: str,
        workdir: Path,
        targets: Sequence[str],
        *,
        rule_files: Sequence[Path] = (),
        port: int | None = None,
        job: str = JOB,
        interval: str = "1s",
    ) -> None:
        self.workdir = workdir
        self.port = free_port(netns) if port is None else port
        workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [
                {
                    "job_name": job,
                    "scrape_timeout": interval,
                    "static_configs": [{"targets": list(targets)}],
                }
            ],
        }
        self.config = workdir / "prometheus.yml"
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))
        argv = [
            PROMETHEUS,
            f"--config.file={self.config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=info",
        ]
        super().__init__(argv, netns=netns, name=f"prometheus[{netns}]", cwd=workdir)

    async def wait_ready(self, timeout: float = 30.0) -> None:
        await self.wait_for_log(r"Server is ready to receive web requests", timeout)


class PrometheusApi:
    """Prometheus's HTTP API on namespace *netns*'s loopback; an async context manager."""

    def __init__(self, netns: str, port: int, *, timeout: float = 30.0) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.session = ns_session(netns, timeout=aiohttp.ClientTimeout(total=timeout))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.session.close()

    async def data(self, path: str, **params: str) -> Any:
        """The ``data`` of a successful answer; a LabError with Prometheus's error otherwise."""
        async with self.session.get(self.base + path, params=params) as response:
            body = await response.json()
        if body.get("status") != "success":
            raise LabError(f"Prometheus {path} {params}: {body.get('error', body)}")
        return body["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's series (``metric`` labels and ``value``)."""
        data = await self.data("/api/v1/query", query=expr)
        if data["resultType"] != "vector":
            raise LabError(f"{expr!r} is a {data['resultType']}, not an instant vector")
        return list(data["result"])

    async def label_values(self, label: str, match: str | None = None) -> list[str]:
        params = {"match[]": match} if match else {}
        return list(await self.data(f"/api/v1/label/{label}/values", **params))

    async def alerts(self, name: str | None = None) -> list[dict[str, Any]]:
        """The active alerts (pending and firing), all or those called *name*."""
        found = (await self.data("/api/v1/alerts"))["alerts"]
        return [a for a in found if name is None or a["labels"].get("alertname") == name]

    async def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule with its health and last error, across groups."""
        groups = (await self.data("/api/v1/rules"))["groups"]
        return [rule for group in groups for rule in group["rules"]]


def render_rules(source: Path, target: Path, *, hold: str) -> Path:
    """*source*'s rules with every alert's ``for:`` set to *hold* (a test cannot wait 2m)."""
    document = yaml.safe_load(source.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            if "alert" in rule and "for" in rule:
                rule["for"] = hold
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


# -- the shipped files as data -----------------------------------------------------------------


def rule_expressions(path: Path) -> dict[str, str]:
    """Every rule of a rules file by its name (``alert`` or ``record``) -> its expression."""
    document = yaml.safe_load(path.read_text())
    found: dict[str, str] = {}
    for group in document["groups"]:
        for rule in group["rules"]:
            found[rule.get("alert") or rule["record"]] = str(rule["expr"])
    return found


def _panels(panels: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", ()))  # a collapsed row holds its panels


def dashboard_queries(dashboard: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(where, query)`` for every panel target and every query variable of *dashboard*."""
    found = []
    for panel in _panels(dashboard.get("panels", ())):
        for target in panel.get("targets", ()):
            found.append((f"panel {panel['title']!r} {target['refId']}", str(target["expr"])))
    for variable in dashboard.get("templating", {}).get("list", ()):
        if variable.get("type") == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, Mapping) else query
            found.append((f"variable {variable['name']}", str(text)))
    return found


def grafana_expr(expr: str, variables: Mapping[str, str]) -> str:
    """*expr* with Grafana's variables (``$job``, ``${instance}``, ``$__rate_interval``)
    replaced by *variables* or Grafana's defaults; a LabError for one neither knows."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        known = {**GRAFANA_BUILTINS, **variables}
        if name not in known:
            raise LabError(f"{expr!r}: no value for the variable ${name}")
        return known[name]

    return VARIABLE.sub(value, expr)


def label_values_query(expr: str) -> tuple[str, str | None] | None:
    """``(label, match)`` of a Grafana ``label_values(match, label)`` query, else None."""
    found = LABEL_VALUES.match(expr.strip())
    return (found.group("label"), found.group("match")) if found else None


def metric_names(expr: str) -> set[str]:
    """The netevd_* metric names an expression reads (recorded names are not among them)."""
    return set(METRIC_NAME.findall(RECORDED_NAME.sub(" ", QUOTED.sub('""', expr))))


def recorded_names(expr: str) -> set[str]:
    """The recorded series (``level:netevd_metric:operation``) an expression reads."""
    return set(RECORDED_NAME.findall(expr))


def scraped_names(text: str) -> set[str]:
    """The sample names (``netevd_events_total``, ``..._bucket``) of a ``/metrics`` text: what
    a scrape of it stores, so what a query can read."""
    return {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }
