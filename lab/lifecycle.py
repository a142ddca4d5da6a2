"""What the lab's nodes, processes, buses and fakes share: ``async with`` starts them and stops
them, whatever happened inside."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Service:
    async def start(self) -> Self:
        raise NotImplementedError

    async def stop(self) -> object:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
