"""Whether an interface is in a state ``netevd wait`` waits for (pure; level, not edge).

Operational states are levels, ordered as systemd-networkd orders them: waiting for
``degraded`` is satisfied by ``routable`` too. The level is the network manager's own
OperationalState when it reports one for the link, else the one derived from the kernel.
Administrative (networkd) and device (NetworkManager) states are matched exactly.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from netevd.core.directories import Directory
from netevd.core.names import NETWORKD, NETWORKMANAGER
from netevd.core.networkd_states import OPERATIONAL_LEVELS, STATE_VALUES
from netevd.core.nm_states import DEVICE_STATES

if TYPE_CHECKING:  # the state only for kernel_facts: `netevd wait` asking a daemon loads none of it
    from netevd.core.state import State

LEVELS = OPERATIONAL_LEVELS  # networkd's order: waiting for degraded takes routable too
ADMINISTRATIVE = STATE_VALUES["AdministrativeState"]  # networkd's, matched exactly
DEVICE = frozenset(DEVICE_STATES) - {"unknown"}  # NetworkManager's, matched exactly
WAITABLE: tuple[str, ...] = tuple(
    d.value for d in Directory if d.value in set(LEVELS) | ADMINISTRATIVE | DEVICE
)


@dataclass(frozen=True, slots=True)
class LinkFacts:
    name: str
    kernel_state: str  # off | no-carrier | carrier | degraded | routable
    managers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # source -> props

    def level(self) -> str:
        reported = self.managers.get(NETWORKD, {}).get("OperationalState", "")
        return reported if reported in LEVELS else self.kernel_state

    def describe(self) -> str:
        parts = [self.level()]
        admin = self.managers.get(NETWORKD, {}).get("AdministrativeState")
        device = self.managers.get(NETWORKMANAGER, {}).get("DeviceState")
        parts += [p for p in (admin, device) if p]
        return f"{self.name} is {'/'.join(parts)}"


def holds(facts: LinkFacts, wanted: str) -> bool:
    if wanted in LEVELS:
        level = facts.level()
        return level in LEVELS and LEVELS.index(level) >= LEVELS.index(wanted)
    admin = facts.managers.get(NETWORKD, {}).get("AdministrativeState")
    device = facts.managers.get(NETWORKMANAGER, {}).get("DeviceState")
    return (wanted in ADMINISTRATIVE and admin == wanted) or (wanted in DEVICE and device == wanted)


@dataclass(frozen=True, slots=True)
class Condition:
    state: str = "routable"
    interfaces: tuple[str, ...] = ()  # names or globs; empty: every interface but loopback
    any: bool = False  # one matching interface suffices (default: all must hold)

    def selects(self, name: str) -> bool:
        if not self.interfaces:
            return True
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.interfaces)

    def verdict(self, links: Iterable[LinkFacts]) -> tuple[bool, str]:
        """(holds, why not): nothing selected never holds (the interface may yet appear)."""
        chosen = [f for f in links if self.selects(f.name)]
        if not chosen:
            wanted = " ".join(self.interfaces) or "any interface"
            return False, f"no interface matches {wanted}"
        good = [holds(f, self.state) for f in chosen]
        if any(good) if self.any else all(good):
            return True, ""
        missing = [f.describe() for f, ok in zip(chosen, good, strict=True) if not ok]
        return False, f"not {self.state}: " + ", ".join(missing)


def kernel_facts(state: State) -> list[LinkFacts]:
    """The facts of every non-loopback link of *state* (the kernel's picture only)."""
    from netevd.core.views import kernel_state

    return [
        LinkFacts(link.name, kernel_state(state, index), state_managers(state, index))
        for index, link in sorted(state.links.items())
        if link.name != "lo" and not link.flags & 0x8  # IFF_LOOPBACK
    ]


def state_managers(state: State, index: int) -> dict[str, Mapping[str, str]]:
    return {source: links[index] for source, links in state.managed.items() if index in links}
