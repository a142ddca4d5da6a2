import pytest

from lab import WaitTimeout, wait_until


async def test_returns_the_truthy_value():
    values = iter([0, None, "", "done"])
    assert await wait_until(lambda: next(values), timeout=5, interval=0.001) == "done"


async def test_async_predicates_work():
    async def check() -> int:
        return 7

    assert await wait_until(check) == 7


async def test_timeout_names_the_condition():
    def never() -> bool:
        return False

    with pytest.raises(WaitTimeout, match=r"^never did not hold within 0.05s \(last: False\)$"):
        await wait_until(never, timeout=0.05, interval=0.01)
    with pytest.raises(WaitTimeout, match=r"^the rule did not hold"):
        await wait_until(lambda: [], timeout=0.01, message="the rule")
