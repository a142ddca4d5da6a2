"""Remove what carries a prefix: namespaces (and the processes in them), root-namespace links."""

from __future__ import annotations

from lab.errors import LabError
from lab.net.build import delete_root_link, root_link_names
from lab.net.naming import prefix_problem
from lab.net.netns import list_netns, remove_netns


def cleanup(prefix: str) -> list[str]:
    """Remove every namespace and root-namespace link whose name starts with *prefix*."""
    if problem := prefix_problem(prefix):
        raise LabError(problem)
    removed = []
    for name in root_link_names():
        if name.startswith(prefix):
            delete_root_link(name)
            removed.append(f"link {name}")
    for name in list_netns():
        if name.startswith(prefix):
            remove_netns(name)
            removed.append(f"netns {name}")
    return removed
