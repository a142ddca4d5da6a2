"""How the command-line client prints the API's documents: JSON for programs, text for people.

Interface names may hold any byte but '/', ':' and whitespace, terminal escapes included, so
every value printed as text goes through ``clean``: what a terminal would act on is shown
escaped instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

Doc = dict[str, Any]


def clean(value: object) -> str:
    """*value* as text with control and other unprintable characters escaped."""
    if value is None:
        return "-"
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    cells = [[clean(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = [headers, *cells]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _clock(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%H:%M:%S.%f")[:-3]
    except ValueError:
        return iso


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h{minutes:02d}m"
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s"


def _describe(event: Doc) -> str:
    d = event.get("detail") or {}
    kind = event.get("type", "")
    if kind.startswith("address"):
        return str(d.get("address", ""))
    if kind.startswith("route"):
        via = f" via {d['gateway']}" if d.get("gateway") else ""
        return f"{d.get('dst')}{via} table {d.get('table')}"
    if kind.startswith("rule"):
        return (
            f"{d.get('priority')}: from {d.get('from') or 'all'} to {d.get('to') or 'all'} "
            f"lookup {d.get('table')}"
        )
    if kind == "link":
        return f"{','.join(d.get('flags', []))} mtu {d.get('mtu')} {d.get('operstate', '')}"
    if kind.startswith("manager"):
        props = d.get("properties") or {}
        return " ".join(f"{k}={v}" for k, v in props.items())
    return " ".join(f"{k}={v}" for k, v in d.items())


def render_script(script: Doc) -> str:
    name = str(script.get("script", "")).rsplit("/", 1)[-1]
    if script.get("timed_out"):
        outcome = "timed out"
    elif script.get("exit_code") is None:
        outcome = f"did not run: {script.get('error') or 'failed'}"
    else:
        outcome = f"exit {script['exit_code']}"
    ms = round(float(script.get("duration", 0)) * 1000)
    seq = f"#{script['seq']} " if "seq" in script else ""
    return clean(f"  {seq}{script.get('directory')}.d/{name}: {outcome} ({ms} ms)")


def render_event(event: Doc) -> str:
    head = (
        f"#{event['seq']}  {_clock(event.get('time', ''))}  {event.get('type')}  "
        f"{event.get('link_name') or '-'}  {_describe(event)}"
    )
    fired = event.get("directories") or []
    if fired:
        head += f"  -> {', '.join(d + '.d' for d in fired)}"
    lines = [clean(head)]
    lines += [render_script(s) for s in event.get("scripts", [])]
    return "\n".join(lines)


def _status(s: Doc) -> str:
    c = s["counts"]
    sources = ", ".join(f"{k} {'up' if v else 'DOWN'}" for k, v in s["sources"].items()) or "-"
    last = s.get("last_event")
    rows = [
        ("version", s["version"]),
        ("backend", s["backend"]),
        ("state", "ready" if s["ready"] else "starting (first dump not done)"),
        ("uptime", _duration(s["uptime_seconds"])),
        ("sources", sources),
        ("interfaces", c["interfaces"]),
        ("addresses", c["addresses"]),
        ("routes", c["routes"]),
        ("rules", c["rules"]),
        ("events", f"{c['events']} ({c['events_buffered']} in the buffer)"),
        ("scripts", f"{c['scripts_run']} run, {c['scripts_failed']} failed"),
        ("gateways", _gateways(s.get("gateways") or {})),
        ("last event", render_event(last).split("\n")[0] if last else "-"),
    ]
    return "\n".join(f"{k + ':':<12} {clean(v)}" for k, v in rows)


def _gateways(liveness: dict[str, bool]) -> str:
    """monitoring.gateway_liveness's verdicts: "-" when off or nothing known yet."""
    words = (f"{name} {'reachable' if up else 'UNREACHABLE'}" for name, up in liveness.items())
    return ", ".join(words) or "-"


def _addresses(link: Doc) -> str:
    return " ".join(
        f"{a['address']}/{a['prefixlen']}" for a in link["addresses"] if not a["link_local"]
    )


def _interfaces(links: list[Doc]) -> str:
    headers = ("INDEX", "NAME", "STATE", "CARRIER", "OPER", "MTU", "MAC", "ADDRESSES", "GATEWAY")
    rows = [
        (
            link["ifindex"],
            link["name"],
            link["kernel_state"],
            "yes" if link["carrier"] else "no",
            link["operstate"],
            link["mtu"],
            link["mac"],
            _addresses(link) or "-",
            " ".join(g for g in (link["gateway"], link["gateway6"]) if g) or "-",
        )
        for link in links
    ]
    return table(headers, rows)


def _reachable(alive: bool | None) -> str:
    return "-" if alive is None else ("yes" if alive else "NO")


def _interface(link: Doc) -> str:
    addresses = [f"{a['address']}/{a['prefixlen']} ({a['scope']})" for a in link["addresses"]]
    backends = [
        f"{name}: " + " ".join(f"{k}={v}" for k, v in sorted(props.items()))
        for name, props in link["backends"].items()
    ]
    rows = [
        ("index", link["ifindex"]),
        ("kind", link["kind"]),
        ("state", f"{link['kernel_state']} (kernel-derived)"),
        ("operstate", link["operstate"]),
        ("carrier", "yes" if link["carrier"] else "no"),
        ("admin", "up" if link["admin_up"] else "down"),
        ("mac", link["mac"]),
        ("mtu", link["mtu"]),
        ("flags", ",".join(link["flags"]) or "-"),
        ("addresses", "\n             ".join(map(clean, addresses)) or "-"),
        ("gateway", link["gateway"]),
        ("gateway6", link["gateway6"]),
        ("reachable", _reachable(link.get("gateway_reachable"))),
        ("table", link["table"]),
        ("monitored", "yes" if link["monitored"] else "no"),
        ("backends", "\n             ".join(map(clean, backends)) or "-"),
    ]
    lines = [clean(link["name"])]
    lines += [
        f"  {k + ':':<10} {v if k in ('addresses', 'backends') else clean(v)}" for k, v in rows
    ]
    if link["events"]:
        lines.append("  events:")
        lines += ["    " + render_event(e).replace("\n", "\n    ") for e in link["events"]]
    return "\n".join(lines)


def _routes(routes: list[Doc]) -> str:
    headers = ("TABLE", "FAMILY", "DESTINATION", "GATEWAY", "DEV", "PROTO", "METRIC", "TYPE")
    rows = [
        (
            r["table_name"] or r["table"],
            r["family"],
            r["dst"],
            r["gateway"],
            r["interface"],
            r["protocol_name"] or r["protocol"],
            r["metric"],
            r["type"],
        )
        for r in routes
    ]
    return table(headers, rows)


def _rules(rules: list[Doc]) -> str:
    headers = ("PRIO", "FAMILY", "FROM", "TO", "IIF", "OIF", "FWMARK", "ACTION", "TABLE")
    rows = [
        (
            r["priority"],
            r["family"],
            r["from"] or "all",
            r["to"] or "all",
            r["iif"],
            r["oif"],
            hex(r["fwmark"]) if r["fwmark"] else "-",
            r["action"],
            r["table_name"] or r["table"],
        )
        for r in rules
    ]
    return table(headers, rows)


def _scripts(doc: Doc) -> str:
    rows = [
        (_listed(d), s["name"], s["verdict"], s["reason"] or "", s["path"])
        for d in doc["directories"]
        for s in d["scripts"]
    ]
    dirs = ["script directories: " + " ".join(map(clean, doc["script_dirs"]))]
    compat = doc.get("compat_dirs") or {}
    dirs += [f"{clean(tree)} scripts: " + " ".join(map(clean, compat[tree])) for tree in compat]
    head = "\n".join(dirs)
    if not rows:
        return head + "\nno scripts found"
    return head + "\n" + table(("DIRECTORY", "NAME", "VERDICT", "WHY", "PATH"), rows)


def _listed(directory: Doc) -> str:
    """``routable.d``; a dispatcher's tree named before it: ``nm-dispatcher:dispatcher.d``."""
    name = clean(directory["directory"]) + ".d"
    tree = directory.get("tree", "netevd")
    return name if tree == "netevd" else f"{clean(tree)}:{name}"


def _events(events: list[Doc]) -> str:
    return "\n".join(render_event(e) for e in events) or "no events"


def _reload(doc: Doc) -> str:
    lines = [f"configuration reloaded from {clean(doc['source'])}"]
    lines += [f"warning: {clean(w)}" for w in doc["warnings"]]
    return "\n".join(lines)


TEXT: dict[str, Callable[[Any], str]] = {
    "status": _status,
    "interfaces": _interfaces,
    "interface": _interface,
    "routes": _routes,
    "rules": _rules,
    "scripts": _scripts,
    "events": _events,
    "reload": _reload,
}


def render(kind: str, data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2)
    return TEXT[kind](data)
