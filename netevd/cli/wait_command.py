"""``netevd wait``: exit 0 as soon as a condition holds (at once if it already does), 1 on
timeout, 2 on usage errors.

It asks the running daemon: the condition is judged on ``/api/v1/interfaces`` and again after
each event of the stream (resumed from the last event seen before the first look, so nothing
falls between). When no daemon answers at the default endpoint, it watches the kernel itself:
subscribe to rtnetlink, dump, then apply each message; only kernel-derived states can be judged
then. No polling either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netevd.client.http import DEFAULT_ENDPOINT, ENDPOINT_ENV, ApiClient, Endpoint
from netevd.core.online import LEVELS, Condition, LinkFacts, kernel_facts
from netevd.errors import RuntimeFailure, UsageError


@dataclass
class Progress:
    """The last reason the condition did not hold, for the timeout's message."""

    reason: str = "nothing looked at yet"

    def judge(self, condition: Condition, links: list[LinkFacts]) -> bool:
        ok, self.reason = condition.verdict(links)
        return ok


def api_facts(documents: list[dict[str, Any]], condition: Condition) -> list[LinkFacts]:
    """Facts from the daemon's interface documents: unmonitored and loopback links only when
    named explicitly."""
    return [
        LinkFacts(doc["name"], doc["kernel_state"], doc.get("backends") or {})
        for doc in documents
        if condition.interfaces or (doc.get("monitored") and "LOOPBACK" not in doc["flags"])
    ]


async def via_daemon(client: ApiClient, condition: Condition, progress: Progress) -> None:
    newest = await client.get("/api/v1/events", {"limit": "1"})
    since = newest[-1]["seq"] if newest else 0
    if progress.judge(condition, api_facts(await client.get("/api/v1/interfaces"), condition)):
        return
    async for kind, _document in client.stream({}, since):
        if kind != "event":
            continue
        links = api_facts(await client.get("/api/v1/interfaces"), condition)
        if progress.judge(condition, links):
            return


async def via_kernel(condition: Condition, progress: Progress) -> None:
    if condition.state not in LEVELS:
        raise UsageError(
            f"--state {condition.state} is a network manager's state: it needs the running "
            "daemon (start netevd, or give --endpoint)"
        )
    # Here, not at the top: asking a daemon needs none of the kernel reader and the state.
    from netevd.kernel.watch import states

    async with contextlib.aclosing(states()) as pictures:
        async for state in pictures:
            if progress.judge(condition, kernel_facts(state)):
                return


async def wait(
    condition: Condition, timeout: float, endpoint: str | None, env: Mapping[str, str]
) -> int:
    progress = Progress()
    explicit = endpoint or env.get(ENDPOINT_ENV)
    client = ApiClient(Endpoint.parse(explicit or DEFAULT_ENDPOINT))
    try:
        async with asyncio.timeout(timeout):
            await _either(client, condition, progress, fallback=not explicit)
    except TimeoutError:
        raise RuntimeFailure(f"timed out after {timeout:g}s: {progress.reason}") from None
    return 0


async def _either(
    client: ApiClient, condition: Condition, progress: Progress, *, fallback: bool
) -> None:
    async with client:
        try:
            await client.get("/api/v1/status")
        except RuntimeFailure as exc:
            if not fallback or not str(exc).startswith("cannot reach netevd"):
                raise
            print(
                f"netevd: no daemon at {client.endpoint}; watching the kernel directly",
                file=sys.stderr,
            )
        else:
            await via_daemon(client, condition, progress)
            return
    await via_kernel(condition, progress)
