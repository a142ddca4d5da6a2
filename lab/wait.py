"""Waiting on conditions with a deadline (never a bare sleep that hopes the system is done)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from lab.errors import LabError

T = TypeVar("T")


class WaitTimeout(LabError, TimeoutError):
    """The condition did not hold before the deadline."""


async def wait_until(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str | Callable[[], str] | None = None,
) -> T:
    """Re-evaluate *predicate* until it returns something truthy, which is returned.

    For conditions that have no event to wait on (the output of ``ip rule``, a file appearing).
    On timeout, raises WaitTimeout with *message* (or the predicate's name) and the last value.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        last = value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            what = message() if callable(message) else message
            name = getattr(predicate, "__name__", "condition")
            raise WaitTimeout(f"{what or name} did not hold within {timeout:g}s (last: {last!r})")
        await asyncio.sleep(min(interval, remaining))


async def until(
    check: Callable[[], Awaitable[T | None]],
    timeout: float,
    *,
    interval: float = 0.05,
    message: str | None = None,
) -> T:
    """:func:`wait_until` for an async predicate that returns a value or None/False."""
    predicate: Callable[[], T | Awaitable[T | None] | None] = check
    found = await wait_until(predicate, timeout, interval, message)
    if found is None:  # wait_until returns only a truthy value
        raise WaitTimeout(message or "condition")
    return found


def wait_until_sync(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str | None = None,
) -> T:
    """``wait_until`` for synchronous code (session fixtures, the image builder's CLI)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            name = message or getattr(predicate, "__name__", "condition")
            raise WaitTimeout(f"{name} did not hold within {timeout:g}s (last: {value!r})")
        time.sleep(min(interval, remaining))
