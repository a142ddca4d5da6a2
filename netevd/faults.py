"""A fault injector for supervision: ``NETEVD_TEST_FAULT=SOURCE[:always]`` makes a source fail.

Sources handle the failures they expect; supervision is for the ones nobody expected, which a
test cannot cause from outside. With the variable set, the named source is wrapped: SIGUSR2
makes its running instance raise (an "unexpected" failure the supervisor must handle), and the
instance the supervisor restarts waits for the next SIGUSR2 before it starts, so the test sees
the source down (and /health at 503) for as long as it wants. With ``:always`` every restart
fails at once, so the supervisor gives up and the daemon exits non-zero.

Only whoever starts the daemon sets its environment; unset, nothing here runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from netevd.errors import UsageError

FAULT_ENV = "NETEVD_TEST_FAULT"

SourceRun = Callable[[], Awaitable[None]]


class InjectedFault(RuntimeError):
    """The failure a test asked for."""


class FaultySource:
    def __init__(self, run: SourceRun, *, always: bool) -> None:
        self._run = run
        self._always = always
        self._signal = asyncio.Event()
        self._crashed = False

    def trigger(self) -> None:
        """SIGUSR2: crash the running instance, or let a held restart go."""
        self._signal.set()

    async def _next_signal(self) -> None:
        await self._signal.wait()
        self._signal.clear()

    async def run(self) -> None:
        if self._crashed:
            if self._always:
                raise InjectedFault("injected fault (always)")
            await self._next_signal()  # held down until the test releases it
        inner = asyncio.ensure_future(self._run())
        trigger = asyncio.ensure_future(self._next_signal())
        try:
            await asyncio.wait({inner, trigger}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            trigger.cancel()
        if inner.done():
            return inner.result()
        inner.cancel()
        await asyncio.gather(inner, return_exceptions=True)
        self._crashed = True
        raise InjectedFault("injected fault")


def wrap_sources(
    sources: Mapping[str, SourceRun], env: Mapping[str, str]
) -> tuple[dict[str, SourceRun], FaultySource | None]:
    """*sources* with the one named in NETEVD_TEST_FAULT wrapped (and that wrapper)."""
    spec = env.get(FAULT_ENV, "").strip()
    if not spec:
        return dict(sources), None
    name, _, mode = spec.partition(":")
    if name not in sources or mode not in ("", "always"):
        raise UsageError(
            f"{FAULT_ENV}={spec!r}: expected SOURCE or SOURCE:always, where SOURCE is one of "
            + ", ".join(sorted(sources))
        )
    faulty = FaultySource(sources[name], always=mode == "always")
    return {**sources, name: faulty.run}, faulty
