"""Reads the configuration file and the environment into the frozen Config of netevd.core.config.

Every problem is collected with the key path that caused it, so one `netevd validate` run lists
them all; the caller decides what to print and how to exit. The older TOML and YAML forms are
rewritten by netevd.config.legacy first and then judged by the same schema
(netevd.config.schema), value checks (netevd.config.values) and environment overrides
(netevd.config.environment).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from netevd.config import legacy
from netevd.config.environment import ENV_VARIABLES, apply_env
from netevd.config.files import FileProblem, parse_yaml, read_text
from netevd.config.render import render_config
from netevd.config.report import Report, show
from netevd.config.schema import read_schema
from netevd.core.config import Config
from netevd.errors import ConfigError

__all__ = [
    "DEFAULT_PATH",
    "ENV_VARIABLES",
    "ConfigError",
    "LoadResult",
    "load_config",
    "parse_config",
    "render_config",
]

DEFAULT_PATH: Final = "/etc/netevd/netevd.yaml"


@dataclass(frozen=True)
class LoadResult:
    config: Config
    warnings: tuple[str, ...]
    source: str  # the file read, or "defaults"


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
    config = read_schema(report, data)
    config = apply_env(report, config, os.environ if env is None else env)
    if config.api.token and config.api.token_file:
        report.error("api.token_file", "give api.token or api.token_file, not both")
    if config.compat.nm_dispatcher and config.system.backend not in ("NetworkManager", "auto"):
        report.warnings.append(
            f"compat.nm_dispatcher is on but system.backend is {config.system.backend}: "
            "NetworkManager-dispatcher's scripts run only with the NetworkManager backend"
        )
    if config.monitoring.route_tables and config.monitoring.routes != "tables":
        report.warnings.append(
            "monitoring.route_tables is ignored unless monitoring.routes is tables"
        )
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
    try:
        text = read_text(name)
        if not name.endswith(".toml"):
            return _parse(parse_yaml(name, text), env, strict, name, go_form=None)
    except FileProblem as exc:
        raise ConfigError([str(exc)]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"config file {name}: {exc}"]) from None
    return _parse(data, env, strict, name, go_form=True)
