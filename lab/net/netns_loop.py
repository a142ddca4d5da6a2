"""An asyncio event loop on a thread that lives in a lab namespace.

A network namespace belongs to a thread (``setns(2)`` moves only the caller), so a thread that
enters one and runs its own loop lets a test run netevd code in-process *as if* netevd ran in
that namespace: ``socket.if_nametoindex``, netlink sockets and ``/proc/sys/net`` all resolve
there, while the test's own loop stays in the root namespace. The rest of the process never
changes namespace.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from pyroute2 import netns as pr_netns

from lab.errors import LabError
from lab.net.netns import netns_path

T = TypeVar("T")


class NetnsLoop:
    """``with NetnsLoop(ns) as loop: future = loop.submit(coro)``; stop() cancels what runs."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._main, name=f"netns-{self.netns}")
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise LabError(f"cannot enter namespace {self.netns}: {self._error}")
        return self

    def _main(self) -> None:
        try:
            pr_netns.setns(str(netns_path(self.netns)), flags=0)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def submit(self, make: Callable[[], Coroutine[Any, Any, T]]) -> concurrent.futures.Future[T]:
        """Run the coroutine *make()* on the namespace's loop."""
        if self._loop is None:
            raise LabError(f"the loop of {self.netns} is not running")
        return asyncio.run_coroutine_threadsafe(make(), self._loop)

    def stop(self) -> None:
        """Cancel everything on the loop, stop it and join the thread (idempotent)."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join()
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
