"""Environment overrides of the configuration (``NETEVD_LOG_LEVEL``, ``NETEVD_API_PORT``, ...)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Final

from netevd.config.report import Report
from netevd.config.values import Invalid, Scalar, bind_address, env_boolean, env_port, one_of
from netevd.core import config as core
from netevd.core.config import Config

_ENV: Final[tuple[tuple[str, str, str, Scalar], ...]] = (
    ("NETEVD_LOG_LEVEL", "system", "log_level", one_of(core.LOG_LEVELS, {"warning": "warn"})),
    ("NETEVD_BACKEND", "system", "backend", one_of(core.BACKENDS)),
    ("NETEVD_API_ENABLED", "api", "enabled", env_boolean),
    ("NETEVD_API_BIND_ADDRESS", "api", "bind_address", bind_address),
    ("NETEVD_API_PORT", "api", "port", env_port),
    ("NETEVD_METRICS_ENABLED", "metrics", "enabled", env_boolean),
)
ENV_VARIABLES: Final = tuple(name for name, *_ in _ENV)
# (variable, what it does), for netevd(8) and netevd.yaml(5)
ENV_HELP: Final = tuple(
    (name, f"Overrides {section}.{key} (an empty value counts as unset); allowed: {check.allowed}.")
    for name, section, key, check in _ENV
)


def apply_env(report: Report, config: Config, env: Mapping[str, str]) -> Config:
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
