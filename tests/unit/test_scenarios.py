"""Every scenario file under tests/scenarios/ (one folder per subject) through the engine's pure
step (no root, no loop)."""

import pytest
from scenarios import DIRECTORY, check, load, run

FILES = sorted(DIRECTORY.rglob("*.yaml"))


def test_there_are_enough_scenarios():
    assert len(FILES) >= 25


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_scenario(path):
    data = load(path)
    runner, replay = run(data)
    check(runner, replay, data["expect"])
