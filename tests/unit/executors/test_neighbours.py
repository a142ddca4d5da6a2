"""The neighbour executor's decisions (netevd.executors.neighbours), without a kernel: which
entries it makes, which it takes over, and which it leaves alone because they are not its own."""

import logging

from netevd.core.model import RTPROT_NETEVD, Neigh
from netevd.executors.neighbours import NeighbourExecutor

KEY = (10, 2, "10.0.0.254")


def test_a_missing_entry_is_made_unresolved_and_netevds_own_is_left_as_it_is():
    executor = NeighbourExecutor()
    assert executor._to_add(KEY, None) == Neigh(10, 2, "10.0.0.254")  # NUD_NONE: kernel resolves
    own = Neigh(10, 2, "10.0.0.254", 0x02, "02:00:00:00:00:01", RTPROT_NETEVD, 1)
    assert executor._to_add(KEY, own) is None


def test_a_kernel_learnt_entry_is_taken_over_in_its_state():
    learnt = Neigh(10, 2, "10.0.0.254", 0x04, "02:00:00:00:00:01")  # STALE, protocol 0
    taken = NeighbourExecutor()._to_add(KEY, learnt)
    assert taken == Neigh(10, 2, "10.0.0.254", 0x04, "02:00:00:00:00:01", RTPROT_NETEVD)


def test_a_permanent_or_another_tools_entry_is_left_alone_and_said_once(caplog):
    executor = NeighbourExecutor()
    permanent = Neigh(10, 2, "10.0.0.254", 0x80, "02:00:00:00:00:01")
    with caplog.at_level(logging.WARNING, logger="netevd.neighbours"):
        assert executor._to_add(KEY, permanent) is None
        assert executor._to_add(KEY, permanent) is None
        other = (10, 2, "10.0.0.253")
        assert executor._to_add(other, Neigh(10, 2, "10.0.0.253", 0x02, "", 3)) is None
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert "address=10.0.0.254 ifindex=10 protocol=0 state=permanent" in warnings[0]
    assert "protocol=3 state=reachable" in warnings[1]
