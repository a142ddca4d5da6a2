"""The engine holds a manager's replay until the kernel's first picture is in."""

from netevd.core.config import Config
from netevd.core.events import KernelSnapshot, ManagerSnapshot
from netevd.core.model import IFF_LOWER_UP, IFF_UP, Addr, Link
from netevd.engine import Engine
from netevd.telemetry.metrics import Metrics


def test_manager_replay_waits_for_the_kernel_dump():
    actions = []
    engine = Engine(Config(), actions.append, Metrics(), backend="systemd-networkd")
    engine.handle(
        ManagerSnapshot(
            "systemd-networkd",
            ((3, (("OperationalState", "routable"), ("AdministrativeState", "configured")), "{}"),),
        )
    )
    assert actions == []
    link = Link(3, "eth0", IFF_UP | IFF_LOWER_UP, 1500)
    engine.handle(KernelSnapshot((link,), (Addr(3, 2, "10.0.0.2", 24),), (), ()))
    routable = [a for a in actions if getattr(a, "directory", "") == "routable"]
    (run,) = [a for a in routable if a.env_dict().get("BACKEND") == "systemd-networkd"]
    assert run.env_dict()["ADDRESSES"] == "10.0.0.2"
    assert run.env_dict()["NETEVD_REPLAY"] == "1"
