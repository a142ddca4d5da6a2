"""The architecture's rules that import-linter cannot state alone: every module has a layer, the
pure core is kept from every dependency, and modules and functions stay small."""

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONTRACTS = {c["id"]: c for c in PYPROJECT["tool"]["importlinter"]["contracts"]}

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 40
CHECKED = ("netevd", "lab", "bench")
# Runtime dependencies the pure core may import, each with its reason (docs/architecture.md).
CORE_ALLOWED = {
    "immutables": "persistent maps: the state's per-link mappings change in O(log n)",
}
# Kept on purpose, each with its reason.
EXCEPTIONS: dict[str, str] = {}


def _top_level_modules() -> set[str]:
    names = set()
    for path in (ROOT / "netevd").iterdir():
        if path.name.startswith("_") or path.name == "static":
            continue
        if path.is_dir() and (path / "__init__.py").exists():
            names.add(path.name)
        elif path.suffix == ".py":
            names.add(path.stem)
    return names


def test_every_module_of_netevd_has_a_layer():
    layered = {name.strip() for layer in CONTRACTS["layers"]["layers"] for name in layer.split("|")}
    assert _top_level_modules() == layered


def test_the_pure_core_is_kept_from_every_runtime_dependency():
    distributions = packages_distributions()
    by_distribution: dict[str, set[str]] = {}
    for module, owners in distributions.items():
        for owner in owners:
            by_distribution.setdefault(owner.lower().replace("_", "-"), set()).add(module)
    forbidden = set(CONTRACTS["pure-core"]["forbidden_modules"])
    for requirement in PYPROJECT["project"]["dependencies"]:
        name = re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        if name in CORE_ALLOWED:
            assert name not in forbidden, f"{name} is allowed to core and forbidden at once"
            continue
        modules = by_distribution[name] - {"_yaml"}
        assert modules <= forbidden, f"{requirement}: {modules - forbidden} may reach core"
    assert {"asyncio", "socket", "subprocess", "os"} <= forbidden


def _functions(tree: ast.AST):
    """(qualified name, node) of every function, methods as Class.method."""
    stack = [(tree, "")]
    while stack:
        node, prefix = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                stack.append((child, f"{prefix}{child.name}."))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield f"{prefix}{child.name}", child
                stack.append((child, f"{prefix}{child.name}."))
            else:
                stack.append((child, prefix))


def _sources():
    for package in CHECKED:
        yield from sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", list(_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path):
    relative = str(path.relative_to(ROOT))
    text = path.read_text()
    lines = len(text.splitlines())
    assert lines <= MAX_MODULE_LINES or relative in EXCEPTIONS, f"{relative}: {lines} lines"
    for name, node in _functions(ast.parse(text)):
        length = node.end_lineno - node.lineno + 1
        key = f"{relative}:{name}"
        assert length <= MAX_FUNCTION_LINES or key in EXCEPTIONS, f"{key}: {length} lines"


def test_every_exception_is_still_needed():
    for key in EXCEPTIONS:
        path, _, function = key.partition(":")
        text = (ROOT / path).read_text()
        if not function:
            assert len(text.splitlines()) > MAX_MODULE_LINES, f"{key} is small now: drop it"
            continue
        lengths = {n: f.end_lineno - f.lineno + 1 for n, f in _functions(ast.parse(text))}
        assert lengths.get(function, 0) > MAX_FUNCTION_LINES, f"{key} is short now: drop it"
