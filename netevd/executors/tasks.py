"""How executors start their background tasks: through the daemon's supervisor, which holds
them (asyncio keeps only weak references) and stops them with the daemon."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[Any]"]


def create_task(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[Any]:
    """The default for an executor used on its own (tests, ``netevd test``)."""
    return asyncio.get_running_loop().create_task(coro, name=name)
