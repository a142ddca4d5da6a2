"""The dashboard in a real headless Chromium, driven over the DevTools protocol.

Chromium runs inside the lab namespace (so it reaches the daemon on that namespace's loopback)
and the test reaches Chromium's DevTools port the same way the API tests reach the daemon. Page
conditions are awaited inside the page with a MutationObserver and a deadline, never polled.
"""

import asyncio
import base64
import itertools
import json
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from lab import Topology, host_peer
from lab.http import API_PORT, ns_session
from lab.netevd import ScriptDirs
from lab.process import ManagedProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HOSTILE = "<b>dash"  # a legal interface name that must show as text, not markup

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (make test installs it)"
)


def topology() -> Topology:
    t = host_peer(["10.231.9.1/24"], ["10.231.9.2/24"], gateway="10.231.9.2")
    return t.add_route("host", "default", via="10.231.9.2", table=201)


def chromium(netns: str, profile: Path) -> ManagedProcess:
    argv = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        "about:blank",
    ]
    env = {"HOME": str(profile), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    return ManagedProcess(argv, netns=netns, env=env, name=f"chromium[{netns}]")


class DevTools:
    """A minimal Chrome DevTools Protocol client: one page, flattened session."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.session = ""
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            future = self.pending.pop(data.get("id", -1), None)
            if future is None or future.done():
                continue
            if "error" in data:
                future.set_exception(RuntimeError(f"CDP error: {data['error']}"))
            else:
                future.set_result(data.get("result", {}))

    async def send(self, method: str, timeout: float = 10.0, **params: Any) -> Any:
        ident = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        await self.ws.send_str(json.dumps(message))
        return await asyncio.wait_for(future, timeout)

    async def open(self, url: str) -> None:
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        self.session = attached["sessionId"]
        await self.send("Page.enable")
        await self.send("Page.navigate", url=url)

    async def wait_for(self, condition: str, timeout_ms: int, what: str) -> Any:
        """Evaluate *condition* (JS) on every DOM change until truthy, or fail at the deadline."""
        script = f"""new Promise((resolve, reject) => {{
            let observer = null;
            const check = () => {{
                let value = null;
                try {{ value = ({condition}); }} catch (e) {{ value = null; }}
                if (value) {{ observer && observer.disconnect(); clearTimeout(timer);
                              resolve(value); }}
            }};
            const timer = setTimeout(() => {{ observer && observer.disconnect();
                reject(new Error({json.dumps("timed out: " + what)})); }}, {timeout_ms});
            observer = new MutationObserver(check);
            observer.observe(document, {{subtree: true, childList: true, characterData: true}});
            check();
        }})"""
        result = await self.send(
            "Runtime.evaluate",
            timeout=timeout_ms / 1000 + 5,
            expression=script,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            state = await self.evaluate("document.body.innerText")
            raise AssertionError(f"{what}: {result['exceptionDetails']}\npage:\n{state}")
        return result["result"].get("value")

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


def cells(table: str, column: int) -> str:
    """JS: the texts of one column of a dashboard table."""
    return (
        f"[...document.querySelectorAll('#{table} tbody tr')]"
        f".map(r => r.cells[{column}] ? r.cells[{column}].textContent : '')"
    )


async def test_dashboard_shows_links_rules_and_live_events(lab, netevd, tmp_path):
    built = await lab(topology())
    host = built.ns("host")
    await built.run(
        "host", "ip", "rule", "add", "from", "10.231.9.1", "table", "201", "pref", "900"
    )
    scripts = ScriptDirs(tmp_path / "scripts")
    await netevd(built, scripts, api=True)
    browser = await built.start_process(chromium(host, tmp_path / "profile"))
    match = await browser.wait_for_log(r"DevTools listening on (ws://\S+)", timeout=30)
    session = ns_session(host)
    try:
        ws = await session.ws_connect(match.group(1), max_msg_size=64 << 20)
        devtools = DevTools(ws)
        await devtools.open(f"http://127.0.0.1:{API_PORT}/")
        await devtools.wait_for(f"{cells('interfaces', 1)}.includes('eth0')", 15000, "eth0 listed")
        await devtools.wait_for(
            "document.getElementById('stream').textContent === 'stream: live'", 10000, "stream"
        )
        rules = await devtools.evaluate(cells("rules", 2))
        assert "10.231.9.1/32" in rules  # from ip's "from 10.231.9.1"
        tables = await devtools.evaluate("document.getElementById('tables').textContent")
        assert "table 201" in tables
        assert "0.0.0.0/0" in tables

        await built.run("host", "ip", "link", "add", HOSTILE, "type", "veth", "peer", "dashpeer")
        changed = time.monotonic()
        await devtools.wait_for(
            f"{cells('events', 3)}.includes({json.dumps(HOSTILE)})", 1000, "the new link's event"
        )
        assert time.monotonic() - changed < 1.0
        await devtools.wait_for(
            f"{cells('interfaces', 1)}.includes({json.dumps(HOSTILE)})", 5000, "the new link"
        )
        # Shown as text: no element was made from the name.
        assert await devtools.evaluate("document.querySelectorAll('main b').length") == 0
        await built.run("host", "ip", "addr", "add", "10.231.20.1/24", "dev", "eth0")
        await devtools.wait_for(
            f"{cells('interfaces', 7)}.some(t => t.includes('10.231.20.1/24'))", 5000, "address"
        )
        shot = await devtools.send("Page.captureScreenshot", format="png")
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "dashboard.png").write_bytes(base64.b64decode(shot["data"]))
        await devtools.close()
    finally:
        await session.close()


# The drawn marks of the plots (plots.js puts each one's data in data-* attributes).
PLOTTED = """({
  now: Number(document.getElementById('plots').dataset.now || 0),
  bars: [...document.querySelectorAll('#plot-events rect.bar')]
    .map(r => [Number(r.dataset.minute), r.dataset.type, Number(r.dataset.count)]),
  segments: [...document.querySelectorAll('#plot-states rect.segment')]
    .map(r => [r.dataset.link, r.dataset.state, Number(r.dataset.from)]),
  runs: [...document.querySelectorAll('#plot-scripts circle.run')]
    .map(c => [Number(c.dataset.seq), c.dataset.script, Number(c.dataset.duration),
               c.dataset.outcome]),
})"""


def per_minute(events: list[dict]) -> list[list]:
    """Events per minute by type, counted from /api/v1/events."""
    counts: dict[tuple[int, str], int] = {}
    for event in events:
        key = (int(event["ts"] // 60) * 60, event["type"])
        counts[key] = counts.get(key, 0) + 1
    return sorted([minute, kind, count] for (minute, kind), count in counts.items())


def script_runs(events: list[dict]) -> list[list]:
    """Every script run of /api/v1/events: seq, script, duration, outcome."""
    found = []
    for event in events:
        for run in event["scripts"]:
            outcome = "timeout" if run["timed_out"] else "ok" if run["exit_code"] == 0 else "failed"
            found.append([event["seq"], run["script"], run["duration"], outcome])
    return sorted(found)


async def test_the_plots_draw_what_the_api_says(lab, netevd, tmp_path, wait_until):
    built = await lab(host_peer(["10.231.9.1/24"], ["10.231.9.2/24"], gateway="10.231.9.2"))
    host = built.ns("host")
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("carrier")
    scripts.add("no-carrier")
    scripts.add_raw("no-carrier", "60-fail", "#!/bin/sh\nexit 3\n")
    daemon = await netevd(built, scripts, api=True)
    api = daemon.http
    browser = await built.start_process(chromium(host, tmp_path / "profile"))
    match = await browser.wait_for_log(r"DevTools listening on (ws://\S+)", timeout=30)
    session = ns_session(host)
    try:
        devtools = DevTools(await session.ws_connect(match.group(1), max_msg_size=64 << 20))
        await devtools.open(f"http://127.0.0.1:{API_PORT}/")
        await devtools.wait_for(
            "document.querySelectorAll('#plot-states rect.segment').length > 0", 15000, "plots"
        )
        # a carrier flap that runs scripts (one of them fails), and an address
        await built.run("peer", "ip", "link", "set", "eth0", "down")
        await scripts.wait_for(STATE="no-carrier")
        await built.run("peer", "ip", "link", "set", "eth0", "up")
        await scripts.wait_for(STATE="carrier", NETEVD_REPLAY="0")
        await built.run("host", "ip", "addr", "add", "10.231.21.1/24", "dev", "eth0")

        async def agreed() -> tuple[dict, list[dict], dict] | None:
            events = await api.data("/api/v1/events", params={"limit": "1000"})
            history = await api.data("/api/v1/history")
            page = await devtools.evaluate(PLOTTED)
            drawn = [
                [link["name"], change["state"], change["ts"]]
                for link in history["links"]
                for change in link["changes"]
            ]
            same = (
                sorted(page["bars"]) == per_minute(events)
                and sorted(page["runs"]) == script_runs(events)
                and page["segments"] == drawn
            )
            return (page, events, history) if same else None

        page, events, history = await wait_until(agreed, 20, message="the plots equal the API")
        kinds = {kind for _, kind, _ in page["bars"]}
        assert {"replay", "link", "address-added"} <= kinds
        outcomes = {(Path(script).parent.name, outcome) for _, script, _, outcome in page["runs"]}
        assert {("no-carrier.d", "failed"), ("no-carrier.d", "ok"), ("carrier.d", "ok")} <= outcomes
        # eth0's line: the state it lost carrier in starts at the event that said so
        eth0 = [(state, ts) for name, state, ts in page["segments"] if name == "eth0"]
        lost = next(
            e for e in events if e["type"] == "link" and "LOWER_UP" not in e["detail"]["flags"]
        )
        assert ("no-carrier", lost["ts"]) in eth0
        assert eth0[-1][0] == "routable"
        assert history["window_seconds"] == 3600
        shot = await devtools.send(
            "Page.captureScreenshot", format="png", captureBeyondViewport=True
        )
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "dashboard-plots.png").write_bytes(base64.b64decode(shot["data"]))
        await devtools.close()
    finally:
        await session.close()
