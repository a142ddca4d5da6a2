"""The older configuration forms, rewritten into the current schema before validation.

Two predecessors left configuration on hosts (research spec §2.2): the Go network-broker's TOML
(PascalCase `[System]`/`[Network]`) and the first netevd YAML (`system.generator`, `network.*`).
Both are rewritten here into a current-schema mapping so that one validator judges all three
forms, while `Report.aliases` lets its messages name the key the user actually wrote.
"""

from __future__ import annotations

import copy
from typing import Final

from netevd.config.report import Report, show

GO_GENERATORS: Final = ("systemd-networkd", "NetworkManager", "dhclient")

# Lower-cased section and key -> (spelling shown in messages, current key path or None = ignored).
# Lower-cased because viper, which read these files, matched keys case-insensitively.
_GO_KEYS: Final[dict[str, dict[str, tuple[str, str | None]]]] = {
    "system": {
        "loglevel": ("LogLevel", "system.log_level"),
        "logformat": ("LogFormat", None),
        "generator": ("Generator", "system.backend"),
    },
    "network": {
        "links": ("Links", "monitoring.interfaces"),
        "routingpolicyrules": ("RoutingPolicyRules", "routing.policy_rules"),
        "emitjson": ("EmitJSON", "backends.systemd_networkd.emit_json"),
        "usedns": ("UseDNS", "backends.dhclient.use_dns"),
        "usedomain": ("UseDomain", "backends.dhclient.use_domain"),
        "usehostname": ("UseHostname", "backends.dhclient.use_hostname"),
    },
}
_GO_SECTIONS: Final = {"system": "System", "network": "Network"}
_WORD_LISTS: Final = frozenset({"monitoring.interfaces", "routing.policy_rules"})
# logrus levels that netevd does not have.
_LOGRUS: Final = {"warning": "warn", "fatal": "error", "panic": "error"}

_EARLY_KEYS: Final = {
    "links": "monitoring.interfaces",
    "routing_policy_rules": "routing.policy_rules",
    "emit_json": "backends.systemd_networkd.emit_json",
    "use_dns": "backends.dhclient.use_dns",
    "use_domain": "backends.dhclient.use_domain",
    "use_hostname": "backends.dhclient.use_hostname",
}

_MISSING: Final = object()


def is_go_form(data: dict[object, object]) -> bool:
    return "System" in data or "Network" in data


def is_early_form(data: dict[object, object]) -> bool:
    system = data.get("system")
    return "network" in data or (isinstance(system, dict) and "generator" in system)


def from_go(data: dict[object, object], report: Report, kind: str) -> dict[object, object]:
    report.warnings.append(
        f"network-broker {kind} is deprecated; write /etc/netevd/netevd.yaml in the current"
        " schema (netevd validate prints it)"
    )
    result: dict[object, object] = {}
    for name, section in data.items():
        lowered = str(name).lower()
        if lowered not in _GO_KEYS:
            report.unknown(str(name), _GO_SECTIONS.values())
        elif not isinstance(section, dict):
            report.error(str(name), f"must be a mapping, got {show(section)}")
        else:
            _from_go_section(str(name), _GO_KEYS[lowered], section, report, result)
    return result


def _from_go_section(
    name: str,
    keys: dict[str, tuple[str, str | None]],
    section: dict[object, object],
    report: Report,
    result: dict[object, object],
) -> None:
    for key, value in section.items():
        written = f"{name}.{key}"
        spelling, target = keys.get(str(key).lower(), (None, None))
        if spelling is None:
            report.unknown(written, [s for s, _ in keys.values()])
        elif target is None:
            report.warnings.append(f"{written} is ignored; netevd chooses its log format itself")
        else:
            converted = _go_value(report, written, target, value)
            if converted is not _MISSING and _put(result, target, converted):
                report.aliases[target] = written


def _go_value(report: Report, written: str, target: str, value: object) -> object:
    if target in _WORD_LISTS:
        return _words(report, written, value)
    if target == "system.backend" and value not in GO_GENERATORS:
        allowed = ", ".join(GO_GENERATORS)
        report.error(written, f"{show(value)} is not allowed; choose one of {allowed}")
        return _MISSING
    if target == "system.log_level" and isinstance(value, str):
        # logrus.ParseLevel lower-cases the level before matching it.
        return _LOGRUS.get(value.lower(), value.lower())
    return value


def from_early(data: dict[object, object], report: Report) -> dict[object, object]:
    result = copy.deepcopy(data)
    system = result.get("system")
    if isinstance(system, dict) and "generator" in system:
        _move(result, "system.generator", "system.backend", system.pop("generator"), report)
    network = result.pop("network", None)
    if network is None:
        return result
    if not isinstance(network, dict):
        report.error("network", f"must be a mapping, got {show(network)}")
        return result
    for key, value in network.items():
        target = _EARLY_KEYS.get(key) if isinstance(key, str) else None
        if target is None:
            report.unknown(f"network.{key}", _EARLY_KEYS)
        else:
            _move(result, f"network.{key}", target, value, report)
    return result


def _move(data: dict[object, object], old: str, new: str, value: object, report: Report) -> None:
    report.warnings.append(f"{old} is deprecated; write {new}")
    if new in _WORD_LISTS:
        value = _words(report, old, value)
        if value is _MISSING:
            return
    current = _get(data, new)
    if current is _MISSING:
        if _put(data, new, value):
            report.aliases[new] = old
    elif current != value:
        report.errors.append(f"{old} and {new} are both given and differ; keep only {new}")


def _words(report: Report, written: str, value: object) -> object:
    # The predecessors wrote interface lists as one space-separated string.
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return value
    report.error(written, f"must be a space-separated string of interface names, got {show(value)}")
    return _MISSING


def _get(data: dict[object, object], path: str) -> object:
    node: object = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _put(data: dict[object, object], path: str, value: object) -> bool:
    """Set a nested key; False when a section on the way is not a mapping (reported later)."""
    *parents, last = path.split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            return False
        node = child
    node[last] = value
    return True
