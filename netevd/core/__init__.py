"""Pure logic: events, state, reactions, actions, policy-routing plans.

Nothing in this package performs I/O or imports asyncio or a third-party library; a unit test
(tests/unit/core/test_purity.py) enforces it.
"""
