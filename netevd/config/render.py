"""The effective configuration as YAML in the current schema (``netevd validate``)."""

from __future__ import annotations

import dataclasses

import yaml

from netevd.core import config as core
from netevd.core.config import Config


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
