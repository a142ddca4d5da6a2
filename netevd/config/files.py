"""Reading a configuration file: UTF-8 text, YAML without duplicate keys, readable errors."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from netevd.config.report import show


class FileProblem(Exception):
    """A file that cannot be read or parsed; the message says where and why."""


def read_text(name: str) -> str:
    try:
        raw = Path(name).read_bytes()
    except OSError as exc:
        raise FileProblem(f"config file {name}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FileProblem(f"config file {name}, line {line}: not UTF-8 text") from None


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


def parse_yaml(name: str, text: str) -> object:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        raise FileProblem(_yaml_problem(name, exc)) from None
