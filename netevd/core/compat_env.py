"""The environment of a compat run (``compat:``): validated like netevd's own, but a variable
the other tool always sets is passed even when empty (``ESSID=``), as that tool passes it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netevd.core.actions import Env
from netevd.core.environment import check


def compat_env(
    values: Mapping[str, str], always: Iterable[str] = ()
) -> tuple[Env, tuple[tuple[str, str], ...]]:
    """(env, dropped): *values* checked one by one; "" kept for the names in *always*."""
    keep_empty = frozenset(always)
    env: list[tuple[str, str]] = []
    dropped: list[tuple[str, str]] = []
    for name, value in values.items():
        if value == "":
            if name in keep_empty:
                env.append((name, value))
            continue
        problem = check(name, value)
        if problem:
            dropped.append((name, problem))
        else:
            env.append((name, value))
    return tuple(env), tuple(dropped)
