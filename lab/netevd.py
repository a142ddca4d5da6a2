"""Running the real ``netevd`` process in a lab namespace, and scripts that record what they saw.

A recorder script writes its whole environment (``env -0``) to one file per run, named so that
the order of runs can be read back; tests then wait on those files with a deadline.

:func:`running_netevd` is the one way to have a daemon for a test or a benchmark: it writes the
configuration (:func:`netevd_config`), starts :class:`NetevdProcess` in a lab namespace, waits
for READY and, on the way out, closes the API client and stops the process.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from lab.errors import LabError
from lab.http import API_PORT, NsApi
from lab.net.build import Lab
from lab.process import ManagedProcess
from lab.wait import wait_until

RECORDER = """#!/bin/sh
# netevd lab recorder: keeps the environment of every run, in order.
n=$(date +%s%N)
f="{out}/$n-$$"
env -0 > "$f.tmp" && mv "$f.tmp" "$f.env"
{extra}
"""


@dataclass(frozen=True)
class Run:
    """One recorded script run."""

    script: str
    env: dict[str, str]

    @property
    def state(self) -> str:
        return self.env.get("STATE", "")

    @property
    def link(self) -> str:
        return self.env.get("LINK", "")


EVENT_SCHEMA = "netevd.event.v1.schema.json"


@functools.cache
def _event_validator() -> Any:
    import jsonschema_rs  # a test dependency: imported only where documents are checked

    text = resources.files("netevd").joinpath("schemas", EVENT_SCHEMA).read_text()
    return jsonschema_rs.validator_for(json.loads(text))


def check_document(text: str) -> dict[str, Any]:
    """A NETEVD_JSON value parsed, after checking it against the schema netevd ships."""
    document = json.loads(text)
    errors = [str(e) for e in _event_validator().iter_errors(document)]
    if errors:
        raise LabError(f"NETEVD_JSON does not match {EVENT_SCHEMA}: {errors}: {text[:500]}")
    return dict(document)


class ScriptDirs:
    """A script tree (``<root>/<state>.d/<name>``) with recorder scripts; root-owned, 0755."""

    def __init__(self, root: Path, record: Iterable[str] = ()) -> None:
        """*record*: states that get a recorder (``50-record``) at once."""
        self.root = root
        self.out = root.parent / (root.name + "-runs")
        self.root.mkdir(parents=True, exist_ok=True)
        self.out.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.out.chmod(0o777)
        for state in record:
            self.add(state)

    def add(self, state: str, name: str = "50-record", extra: str = "", mode: int = 0o755) -> Path:
        """A recorder in ``<state>.d``; *extra* is shell appended after the recording."""
        directory = self.root / f"{state}.d"
        directory.mkdir(exist_ok=True)
        directory.chmod(0o755)
        path = directory / name
        path.write_text(RECORDER.format(out=self.out, extra=extra))
        path.chmod(mode)
        return path

    def add_raw(self, state: str, name: str, text: str, mode: int = 0o755) -> Path:
        """A script of your own (*text*, a shebang first) as ``<state>.d/<name>``."""
        directory = self.root / f"{state}.d"
        directory.mkdir(exist_ok=True)
        directory.chmod(0o755)
        path = directory / name
        path.write_text(text)
        path.chmod(mode)
        return path

    def runs(self) -> list[Run]:
        """Every recorded run so far, oldest first."""
        found = []
        for path in sorted(self.out.glob("*.env"), key=lambda p: int(p.name.split("-")[0])):
            items = path.read_bytes().split(b"\0")
            env = dict(i.decode(errors="replace").split("=", 1) for i in items if b"=" in i)
            found.append(Run(script=path.name, env=env))
        return found

    def matching(self, **want: str) -> list[Run]:
        """The recorded runs whose environment has every ``KEY=value`` of *want*."""
        return [r for r in self.runs() if all(r.env.get(k) == v for k, v in want.items())]

    async def wait_for(self, count: int = 1, timeout: float = 15.0, **want: str) -> list[Run]:
        """Wait until at least *count* runs match *want* (env values); returns them."""

        def enough() -> list[Run] | None:
            runs = self.matching(**want)
            return runs if len(runs) >= count else None

        desc = " ".join(f"{k}={v}" for k, v in want.items())
        found = await wait_until(enough, timeout, message=f"{count} run(s) with {desc}")
        return found or []

    def clear(self) -> None:
        """Forget the runs recorded so far."""
        for path in self.out.glob("*"):
            path.unlink()


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    """*config* as YAML at *path*; returns *path*."""
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return path


def netevd_config(dirs: ScriptDirs | Path, **sections: Mapping[str, Any]) -> dict[str, Any]:
    """A config for tests: kernel-only, scripts from *dirs* (a ScriptDirs or a script tree's
    root), debug log, no privilege drop, no API. Each of *sections* is merged into its section
    (``system={"backend": "auto"}`` keeps the other ``system`` keys)."""
    root = dirs.root if isinstance(dirs, ScriptDirs) else dirs
    config: dict[str, Any] = {
        "system": {
            "backend": "none",
            "script_dirs": [str(root)],
            "user": "",
            "log_level": "debug",
        },
        "scripts": {"timeout": 10, "routes_debounce_ms": 200},
        "monitoring": {"exclude": ["lo"]},
        "api": {"enabled": False},
    }
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    return config


def daemon_python() -> str:
    """The interpreter the lab runs the daemon with: this one, or $NETEVD_LAB_PYTHON (the venv
    of another build of netevd, to run today's tests against it, e.g. an older commit)."""
    return os.environ.get("NETEVD_LAB_PYTHON") or sys.executable


class NetevdProcess(ManagedProcess):
    """``python -m netevd run -c CONFIG`` inside namespace *netns*."""

    def __init__(
        self,
        netns: str,
        config: Path,
        *,
        env: Mapping[str, str] | None = None,
        args: Iterable[str] = (),
    ) -> None:
        base = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
        }
        super().__init__(
            [daemon_python(), "-m", "netevd", "run", "-c", str(config), *args],
            netns=netns,
            env={**base, **(env or {})},
            name=f"netevd[{netns}]",
            # From /: `python -m` puts the working directory first on sys.path, and a checkout
            # there must not stand in for the netevd that is installed.
            cwd="/",
        )

    async def wait_ready(self, timeout: float = 20.0) -> None:
        await self.wait_for_log(r"\bready\b", timeout)

    async def wait_for_count(self, pattern: str, count: int, timeout: float = 15.0) -> None:
        """Wait until at least *count* output lines match *pattern*."""
        regex = re.compile(pattern)

        def seen() -> bool:
            return sum(1 for _, line in self.lines if regex.search(line)) >= count

        await wait_until(seen, timeout, message=f"{count} log lines matching {pattern!r}")


def api_section(api: bool | Mapping[str, Any]) -> dict[str, Any]:
    """The ``api`` section for *api*: off for False; on 127.0.0.1:API_PORT of the daemon's
    namespace for True; that updated with a mapping's keys (``{"socket": PATH}``, a port)."""
    if api is False:
        return {"enabled": False}
    section: dict[str, Any] = {"enabled": True, "bind_address": "127.0.0.1", "port": API_PORT}
    if api is not True:
        section.update(api)
    return section


@dataclass
class Daemon:
    """A running netevd: its process, namespace (real name), configuration file, API client."""

    proc: NetevdProcess
    netns: str
    config: Path
    api: NsApi | None

    @property
    def http(self) -> NsApi:
        """The API client; a LabError when the daemon was started without its API."""
        if self.api is None:
            raise LabError(f"netevd in {self.netns} was started without its API (api=False)")
        return self.api


@contextlib.asynccontextmanager
async def running_netevd(
    lab: Lab,
    ns: str,
    workdir: Path,
    scripts: ScriptDirs | Path,
    /,
    *,
    api: bool | Mapping[str, Any] = False,
    env: Mapping[str, str] | None = None,
    args: Iterable[str] = (),
    ready_timeout: float = 20.0,
    config_name: str = "netevd.yaml",
    **sections: Mapping[str, Any],
) -> AsyncIterator[Daemon]:
    """The real netevd in lab namespace *ns*, READY; closed and stopped on the way out.

    The configuration is :func:`netevd_config` with *sections* merged in and the ``api``
    section from *api* (see :func:`api_section`), written to ``workdir/config_name``. *env* is
    added to the daemon's environment (``NOTIFY_SOCKET``, a private bus's address), *args* to
    its command line. The first four parameters are positional, so that a configuration
    section may be called ``scripts``. The process is also the lab's, so a lab teardown stops
    it too.
    """
    config = write_config(
        workdir / config_name, netevd_config(scripts, api=api_section(api), **sections)
    )
    real = lab.ns(ns)
    proc = await lab.start_process(NetevdProcess(real, config, env=env, args=args))
    client = NsApi(real, int(api_section(api).get("port", API_PORT))) if api else None
    try:
        await proc.wait_ready(ready_timeout)
        yield Daemon(proc, real, config, client)
    finally:
        if client is not None:
            await client.close()
        await proc.stop()
