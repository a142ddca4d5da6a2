"""Reads the configuration file and the environment into the frozen Config of netevd.core.config.

Every problem is collected with the key path that caused it, so one `netevd validate` run lists
them all; the caller decides what to print and how to exit. The older TOML and YAML forms are
rewritten by netevd.config_legacy first and then judged by the same checks.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeAlias

import yaml

from netevd import config_legacy as legacy
from netevd.config_checks import api_token, optional_path, pinned_tables
from netevd.config_legacy import (
    Invalid,
    Report,
    Scalar,
    absolute_path,
    bind_address,
    boolean,
    condition,
    env_boolean,
    env_port,
    event_type,
    integer,
    interface_name,
    one_of,
    port_number,
    seconds,
    show,
    user_name,
)
from netevd.core import config as core
from netevd.core.config import Config

DEFAULT_PATH: Final = "/etc/netevd/netevd.yaml"

TABLE_BASE_MAX: Final = 2**31 - 1  # leaves room for table_base + ifindex in a 32-bit table id
FILTER_BACKENDS: Final = ("systemd-networkd", "NetworkManager", "dhclient", "kernel")


class ConfigError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class LoadResult:
    config: Config
    warnings: tuple[str, ...]
    source: str  # the file read, or "defaults"


@dataclass(frozen=True)
class _List:
    item: Scalar
    expected: str  # completes "must be a list of ..."


@dataclass(frozen=True)
class _Custom:
    parse: Callable[[Report, str, object], object]


@dataclass(frozen=True)
class _Section:
    cls: Callable[..., object]
    fields: Mapping[str, Field]
    rename: Mapping[str, str] = dataclasses.field(default_factory=dict)


Field: TypeAlias = Scalar | _List | _Custom | _Section

_OMIT: Final = object()  # a key whose value is bad or ignored: the dataclass default stands


def _ignored_scripts(report: Report, path: str, value: object) -> object:
    report.warnings.append(
        f"{report.written(path)} is ignored; netevd runs the scripts of the event's directory"
    )
    return _OMIT


# --- the schema --------------------------------------------------------------------------------

_INTERFACES: Final = _List(interface_name, "interface names or globs")
_PATHS: Final = _List(absolute_path, "absolute paths")
_MATCH: Final = _Section(
    core.FilterMatch,
    {
        "interface": interface_name,
        "interface_pattern": interface_name,
        "event_type": event_type,
        "ip_family": one_of(("ipv4", "ipv6", "any")),
        "backend": one_of(FILTER_BACKENDS),
        "condition": condition,
    },
)
_FILTER: Final = _Section(
    core.Filter,
    {
        "match_rule": _MATCH,
        "match": _MATCH,
        "action": one_of(("execute", "ignore", "log")),
        "scripts": _Custom(_ignored_scripts),
    },
    rename={"match_rule": "match"},
)


def _filters(report: Report, path: str, value: object) -> object:
    if value is None:
        return ()
    if not isinstance(value, list):
        report.error(path, f"must be a list of filters, got {show(value)}")
        return _OMIT
    result = []
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        if isinstance(item, dict) and "match_rule" in item and "match" in item:
            report.error(item_path, "give match_rule or match, not both")
        parsed = _section(report, item_path, item, _FILTER)
        if parsed is not _OMIT:
            result.append(parsed)
    return tuple(result)


def _pinned_tables(report: Report, path: str, value: object) -> object:
    pinned, problems = pinned_tables(value)
    for where, message in problems:
        report.error(f"{path}{where}", message)
    return _OMIT if pinned is None else pinned


_SCHEMA: Final = _Section(
    Config,
    {
        "system": _Section(
            core.SystemConfig,
            {
                "log_level": one_of(core.LOG_LEVELS, {"warning": "warn"}),
                "backend": one_of(core.BACKENDS),
                "script_dirs": _PATHS,
                "user": user_name,
                "state_dir": absolute_path,
                "netlink_rcvbuf": integer(4096, 1 << 30),
            },
        ),
        "scripts": _Section(
            core.ScriptsConfig,
            {
                "timeout": seconds(zero_allowed=False),
                "max_parallel": integer(1, 1024),
                "routes_debounce_ms": integer(0, 60000),
                "run_startup_triggers": boolean,
                "shutdown_grace": seconds(zero_allowed=True),
            },
        ),
        "monitoring": _Section(
            core.MonitoringConfig, {"interfaces": _INTERFACES, "exclude": _INTERFACES}
        ),
        "routing": _Section(
            core.RoutingConfig,
            {
                "policy_rules": _INTERFACES,
                "table_base": integer(1, TABLE_BASE_MAX),
                "to_rules": boolean,
                "tables": _Custom(_pinned_tables),
                # `to` rules take priority + 1, and both must stay in front of main (32766)
                "priority": integer(1, 32764),
                "cleanup_on_exit": boolean,
            },
        ),
        "backends": _Section(
            core.BackendsConfig,
            {
                "systemd_networkd": _Section(core.NetworkdConfig, {"emit_json": boolean}),
                "dhclient": _Section(
                    core.DhclientConfig,
                    {
                        "use_dns": boolean,
                        "use_domain": boolean,
                        "use_hostname": boolean,
                        "lease_paths": _PATHS,
                    },
                ),
                "networkmanager": _Section(core.NetworkManagerConfig, {}),
            },
        ),
        "api": _Section(
            core.ApiConfig,
            {
                "enabled": boolean,
                "bind_address": bind_address,
                "port": port_number,
                "token": api_token,
                "token_file": optional_path,
                "socket": optional_path,
            },
        ),
        "metrics": _Section(core.MetricsConfig, {"enabled": boolean}),
        "filters": _Custom(_filters),
    },
)


# --- walking the data against the schema -----------------------------------------------------


def _section(report: Report, path: str, value: object, section: _Section) -> object:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        report.error(path, f"must be a mapping, got {show(value)}")
        return _OMIT
    kwargs: dict[str, object] = {}
    for key, item in value.items():
        key_path = f"{path}.{key}" if path else str(key)
        spec = section.fields.get(key) if isinstance(key, str) else None
        if spec is None:
            report.unknown(key_path, section.fields)
            continue
        parsed = _field(report, key_path, item, spec)
        if parsed is not _OMIT:
            kwargs[section.rename.get(str(key), str(key))] = parsed
    return section.cls(**kwargs)


def _field(report: Report, path: str, value: object, spec: Field) -> object:
    if isinstance(spec, _Section):
        return _section(report, path, value, spec)
    if isinstance(spec, _Custom):
        return spec.parse(report, path, value)
    if isinstance(spec, _List):
        return _list(report, path, value, spec)
    try:
        return spec(value)
    except Invalid as exc:
        report.error(path, str(exc))
        return _OMIT


def _list(report: Report, path: str, value: object, spec: _List) -> object:
    if not isinstance(value, list):
        report.error(path, f"must be a list of {spec.expected}, got {show(value)}")
        return _OMIT
    items = []
    for index, item in enumerate(value):
        try:
            items.append(spec.item(item))
        except Invalid as exc:
            report.error(f"{path}[{index}]", str(exc))
    return tuple(items) if len(items) == len(value) else _OMIT


# --- environment -------------------------------------------------------------------------------


_ENV: Final[tuple[tuple[str, str, str, Scalar], ...]] = (
    ("NETEVD_LOG_LEVEL", "system", "log_level", one_of(core.LOG_LEVELS, {"warning": "warn"})),
    ("NETEVD_BACKEND", "system", "backend", one_of(core.BACKENDS)),
    ("NETEVD_API_ENABLED", "api", "enabled", env_boolean),
    ("NETEVD_API_BIND_ADDRESS", "api", "bind_address", bind_address),
    ("NETEVD_API_PORT", "api", "port", env_port),
    ("NETEVD_METRICS_ENABLED", "metrics", "enabled", env_boolean),
)
ENV_VARIABLES: Final = tuple(name for name, *_ in _ENV)


def _apply_env(report: Report, config: Config, env: Mapping[str, str]) -> Config:
    for name, section, key, check in _ENV:
        # An empty value counts as unset: systemd's Environment=NAME= is a common way to clear one.
        raw = env.get(name, "").strip()
        if not raw:
            continue
        try:
            value = check(raw)
        except Invalid as exc:
            report.errors.append(f"{name}: {exc}")
            continue
        changed = dataclasses.replace(getattr(config, section), **{key: value})
        config = dataclasses.replace(config, **{section: changed})
    return config


# --- public API --------------------------------------------------------------------------------


def parse_config(
    data: object,
    *,
    env: Mapping[str, str] | None = None,
    strict: bool = False,
    source: str = "<string>",
) -> LoadResult:
    """Validate already-parsed YAML or TOML data; raise ConfigError listing every problem."""
    return _parse(data, env, strict, source, go_form=None)


def _parse(
    data: object, env: Mapping[str, str] | None, strict: bool, source: str, go_form: bool | None
) -> LoadResult:
    report = Report(strict=strict)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: the top level must be a mapping, got {show(data)}"])
    if go_form or (go_form is None and legacy.is_go_form(data)):
        data = legacy.from_go(data, report, "TOML" if source.endswith(".toml") else "YAML")
    elif legacy.is_early_form(data):
        data = legacy.from_early(data, report)
    config = _section(report, "", data, _SCHEMA)
    if not isinstance(config, Config):
        config = Config()
    config = _apply_env(report, config, os.environ if env is None else env)
    if config.api.token and config.api.token_file:
        report.error("api.token_file", "give api.token or api.token_file, not both")
    if report.errors:
        raise ConfigError(report.errors)
    return LoadResult(config, tuple(report.warnings), source)


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    strict: bool = False,
) -> LoadResult:
    """Read a configuration file; the default file may be absent, a named one may not."""
    if path is None:
        if not os.path.lexists(DEFAULT_PATH):
            return _parse({}, env, strict, "defaults", go_form=False)
        path = DEFAULT_PATH
    name = str(path)
    text = _read_text(name)
    if name.endswith(".toml"):
        try:
            data: object = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"config file {name}: {exc}"]) from None
        return _parse(data, env, strict, name, go_form=True)
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(name, exc)]) from None
    return _parse(data, env, strict, name, go_form=None)


def _read_text(name: str) -> str:
    try:
        raw = Path(name).read_bytes()
    except OSError as exc:
        raise ConfigError([f"config file {name}: {exc.strerror or exc}"]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([f"config file {name}, line {line}: not UTF-8 text"]) from None


class _Loader(yaml.SafeLoader):
    """Refuses duplicate keys, which PyYAML would otherwise settle silently for the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {show(key)}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(name: str, exc: yaml.YAMLError) -> str:
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return f"config file {name}: {exc}"
    mark = exc.problem_mark
    text = f"config file {name}, line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    context = exc.context_mark
    # The context helps only when it points elsewhere, e.g. at the start of an unclosed list.
    if exc.context and context is not None and context.line != mark.line:
        text += f" ({exc.context} that starts at line {context.line + 1})"
    return text


def render_config(config: Config) -> str:
    """The effective configuration as YAML in the current schema, loadable as it is."""
    return yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True)


def _plain(value: object) -> object:
    if isinstance(value, core.RoutingConfig):
        fields = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {**fields, "tables": dict(value.tables)}
    if isinstance(value, core.Filter):
        match = {f.name: getattr(value.match, f.name) for f in dataclasses.fields(value.match)}
        rule = {key: item for key, item in match.items() if item is not None}
        return {"match_rule": rule, "action": value.action}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value
