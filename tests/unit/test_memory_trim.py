"""The Trimmer: memory goes back to the kernel once a storm is over, never while it lasts or
for a trickle of events."""

import asyncio

from netevd.system import memory


def spawned_trims(monkeypatch):
    monkeypatch.setattr(memory, "TRIM_QUIET", 0.01)
    done: list[str] = []

    def spawn(coro, name):
        done.append(name)
        return asyncio.get_running_loop().create_task(coro)

    return memory.Trimmer(spawn), done


async def test_a_storm_is_followed_by_one_trim_once_quiet(monkeypatch):
    trimmer, done = spawned_trims(monkeypatch)
    trimmer(memory.TRIM_AFTER - 1)
    trimmer(1)  # the storm reaches TRIM_AFTER: a trim is due once it has been quiet
    assert done == []
    async with asyncio.timeout(5):
        while not done:
            await asyncio.sleep(0.005)
    assert done == ["memory-trim"]


async def test_a_trickle_never_trims_and_a_stop_cancels(monkeypatch):
    trimmer, done = spawned_trims(monkeypatch)
    trimmer(memory.TRIM_AFTER - 1)
    assert trimmer._timer is None  # below TRIM_AFTER: nothing is even scheduled
    trimmer(1)
    assert trimmer._timer is not None
    trimmer.cancel()  # the daemon stops: the due trim is dropped
    assert trimmer._timer is None
    assert done == []


def test_give_back_runs_on_this_libc():
    memory.give_back()  # glibc's malloc_trim here; a no-op where there is none
    assert memory._TRIM is not None
