"""The API on port 0 in front of a real Engine fed with events (no kernel, no root)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from api_world import ApiFactory, api_factory


@pytest.fixture
async def make_api(tmp_path: Path) -> AsyncIterator[ApiFactory]:
    async for factory in api_factory(tmp_path):
        yield factory
