"""The quiet window's pending runs (pure). ``routes.d`` and the kernel change hooks that come in
storms (``address-added.d``, ``address-removed.d``, ``mtu.d``, ``gateway.d``) are not built when
their event comes: a :class:`~netevd.core.actions.PendingRun` with the change's own values waits
for its link's quiet window in the script executor, the newest of a burst wins, and when the
window ends (``QuietWindowEnded``) :func:`resolve` completes it with the link's picture of that
moment. Building the environment for each of a storm's thousand route events would be wasted on
all but the last, and would cost the whole link's routes every time.
"""

from __future__ import annotations

from netevd.core.actions import Action, Env, PendingRun
from netevd.core.config import Config
from netevd.core.directories import Directory
from netevd.core.environment import link_name_problem
from netevd.core.events import KERNEL, Context
from netevd.core.filters import monitored
from netevd.core.model import Link
from netevd.core.runs import apply_filters, policy_env, script_run
from netevd.core.state import State
from netevd.core.views import LinkView, view

# An address hook still runs when its link went meanwhile (deleting a link removes its
# addresses first), with a bare picture of the link; the others need the link.
ADDRESS_HOOKS = frozenset({Directory.ADDRESS_ADDED, Directory.ADDRESS_REMOVED})


def scriptable(link: Link, config: Config) -> bool:
    """Whether scripts may run for *link*: a safe name, and monitored."""
    return not link_name_problem(link.name) and monitored(link.name, config.monitoring)


def pending_run(
    link: Link, directory: Directory, ctx: Context, event: str, values: Env = ()
) -> PendingRun:
    """The run of *directory* for *link*, to be completed when its quiet window ends."""
    return PendingRun(
        directory=directory,
        link_index=link.index,
        link_name=link.name,
        event=event,
        seq=ctx.seq,
        values=values,
        replay=ctx.replay,
        event_ts=ctx.ts,
    )


def resolve(state: State, pending: PendingRun, config: Config) -> list[Action]:
    """The run *pending* stands for, with the picture of *state* (the state when the quiet
    window ended) and the pending run's own values over it, filtered; nothing when the link
    has gone (an address hook: see ADDRESS_HOOKS) or may not run scripts."""
    current = view(state, pending.link_index)
    if current is None and pending.directory in ADDRESS_HOOKS:
        link = Link(pending.link_index, pending.link_name)
        current = LinkView(link, (), "", "", "unknown")
    if current is None or not scriptable(current.link, config):
        return []
    ctx = Context(seq=pending.seq, ts=pending.event_ts, replay=pending.replay)
    extra = {**policy_env(state, current.link.name, config), **dict(pending.values)}
    directory, kind = pending.directory, pending.event
    run = script_run(current, directory, KERNEL, ctx, kind, state, extra=extra)
    return apply_filters([run], config)
