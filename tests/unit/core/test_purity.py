"""netevd.core must stay pure: no I/O modules, no asyncio, no third-party imports."""

import ast
import sys
from pathlib import Path

import netevd.core

CORE = Path(netevd.core.__file__).parent
ALLOWED_STDLIB = {
    "__future__",
    "collections",
    "dataclasses",
    "enum",
    "fnmatch",
    "ipaddress",
    "json",
    "re",
    "typing",
    "itertools",
    "functools",
    "math",
    "operator",
    "difflib",
}
FORBIDDEN = {"os", "io", "socket", "subprocess", "asyncio", "pathlib", "time", "shutil", "sys"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_core_imports_only_pure_stdlib_and_itself():
    offenders = {}
    for path in sorted(CORE.glob("*.py")):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if module.startswith("netevd.core") or top in ALLOWED_STDLIB:
                continue
            offenders.setdefault(path.name, []).append(module)
    assert offenders == {}


def test_the_check_would_catch_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom pyroute2 import IPRoute\nfrom netevd.sources import x\n")
    assert imported_modules(bad) == {"os", "pyroute2", "netevd.sources"}
    assert FORBIDDEN.isdisjoint(ALLOWED_STDLIB)
    assert "pyroute2" not in sys.stdlib_module_names
