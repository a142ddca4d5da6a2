"""Building netevd's images with podman where no image registry answers (``make image``).

The base: ``docker.io/library/debian:bookworm-slim`` when it is present or can be pulled;
otherwise a local one, made once with ``debootstrap --variant=minbase bookworm`` from the
Debian mirror apt already uses, slimmed like Debian's own slim image (no docs, man pages,
locales or apt lists), imported as ``localhost/netevd-base:bookworm`` and reused.

What the build needs to reach the package index is given to it as build secrets, mounted
only for the step that installs from PyPI and never copied into an image: the host's CA
bundle and a generated pip.conf that points pip at it (and at the host's package index, when
one is configured). One machine-wide lock serialises
builds, so parallel test workers and sessions build each image once and then reuse it.
"""

from __future__ import annotations

import configparser
import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lab.containers.podman import Podman
from lab.errors import LabError

UPSTREAM_BASE = "docker.io/library/debian:bookworm-slim"
LOCAL_BASE = "localhost/netevd-base:bookworm"
IMAGE = "localhost/netevd:latest"
SUITE = "bookworm"
LOCK_PATH = Path("/run/lock/netevd-image-build.lock")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
CA_IN_BUILD = "/run/build/host-ca.pem"  # where the Containerfile mounts secret host-ca
PIP_CONFS = ("/etc/pip.conf", "/etc/xdg/pip/pip.conf", "~/.config/pip/pip.conf", "~/.pip/pip.conf")
PULL_TIMEOUT = 180.0

# Like Debian's slim images: later `apt-get install`s in the image skip these as well.
DPKG_EXCLUDES = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
"""
APT_CLEAN = """\
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Install-Recommends "false";
"""  # noqa: E501  (apt's syntax wants each statement on one line)


@dataclass(frozen=True)
class Mirrors:
    debian: str
    security: str | None = None


def apt_mirrors(apt_dir: Path = Path("/etc/apt")) -> Mirrors:
    """The Debian mirror (and security mirror) apt uses on this host, from its sources."""
    entries: list[tuple[str, list[str]]] = []  # (uri, suites)
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*"))]
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.suffix == ".sources":
            entries += _deb822_entries(text)
        elif path.suffix == ".list" or path.name == "sources.list":
            entries += _one_line_entries(text)
    debian = next((uri for uri, suites in entries if SUITE in suites), None)
    if debian is None:
        raise LabError(f"no Debian {SUITE} mirror in {apt_dir}/sources.list*: cannot debootstrap")
    security = next((uri for uri, suites in entries if f"{SUITE}-security" in suites), None)
    return Mirrors(debian, security)


def _deb822_entries(text: str) -> list[tuple[str, list[str]]]:
    found = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
            continue
        found += [(uri, fields.get("suites", "").split()) for uri in fields.get("uris", "").split()]
    return found


def _one_line_entries(text: str) -> list[tuple[str, list[str]]]:
    found = []
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            found.append((words[1], [words[2]]))
    return found


@contextlib.contextmanager
def build_lock(path: Path = LOCK_PATH) -> Iterator[None]:
    """Machine-wide: podman's image store is shared by every worker and session."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_base(podman: Podman, workdir: Path, explicit: str | None = None) -> str:
    """The base image to build on (see the module's docstring for the order of choices)."""
    if explicit:
        return explicit
    for ref in (UPSTREAM_BASE, LOCAL_BASE):
        if podman.image_id(ref):
            return ref
    pulled = podman.run("pull", "--quiet", UPSTREAM_BASE, check=False, timeout=PULL_TIMEOUT)
    if pulled.returncode == 0:
        return UPSTREAM_BASE
    make_local_base(podman, workdir, apt_mirrors())
    return LOCAL_BASE


def make_local_base(podman: Podman, workdir: Path, mirrors: Mirrors) -> None:
    rootfs = workdir / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    try:
        _run(["debootstrap", "--variant=minbase", SUITE, str(rootfs), mirrors.debian], 900)
        slim_rootfs(rootfs, mirrors)
        tar = subprocess.Popen(
            ["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE
        )
        try:
            imported = subprocess.run(
                [podman.binary, "import", "--change", 'CMD ["/bin/bash"]', "-", LOCAL_BASE],
                stdin=tar.stdout,
                env=podman.env,
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            if tar.stdout is not None:
                tar.stdout.close()
            tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise LabError(f"podman import of {rootfs} failed: {imported.stderr.strip()}")
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def slim_rootfs(rootfs: Path, mirrors: Mirrors) -> None:
    """What Debian's slim image leaves out, plus nothing of the host (resolv.conf, hostname)."""
    (rootfs / "etc/dpkg/dpkg.cfg.d/netevd-slim").write_text(DPKG_EXCLUDES)
    (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN)
    sources = [f"deb {mirrors.debian} {SUITE} main", f"deb {mirrors.debian} {SUITE}-updates main"]
    if mirrors.security:
        sources.append(f"deb {mirrors.security} {SUITE}-security main")
    (rootfs / "etc/apt/sources.list").write_text("\n".join(sources) + "\n")
    for name in ("etc/resolv.conf", "etc/hostname"):
        (rootfs / name).unlink(missing_ok=True)
    for pattern in ("var/cache/apt/*.bin", "var/cache/apt/archives/*.deb", "var/lib/apt/lists/*"):
        for path in rootfs.glob(pattern):
            _remove(path)
    for directory in ("usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian"):
        for path in (rootfs / directory).glob("*"):
            _remove(path)
    for path in (rootfs / "usr/share/doc").glob("*/*"):
        if path.name != "copyright":
            _remove(path)
    for path in (rootfs / "var/log").rglob("*"):
        if path.is_file():
            path.unlink()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def pip_conf_text(ca_path: str = CA_IN_BUILD) -> str:
    """pip.conf for the build: the host's CA bundle, and its package index if it names one."""
    lines = ["[global]", f"cert = {ca_path}"]
    index = os.environ.get("PIP_INDEX_URL") or _host_pip_setting("index-url")
    if index and index.startswith(("http://", "https://")):
        lines.append(f"index-url = {index}")
    return "\n".join(lines) + "\n"


def _host_pip_setting(key: str) -> str | None:
    parser = configparser.ConfigParser()
    parser.read([os.path.expanduser(p) for p in PIP_CONFS])
    value = parser.get("global", key, fallback=None) or parser.get("install", key, fallback=None)
    return value.split()[0] if value else None


@dataclass(frozen=True)
class Build:
    image_id: str
    seconds: float


def build(
    podman: Podman,
    context: Path,
    tag: str,
    *,
    containerfile: str = "Containerfile",
    build_args: Sequence[tuple[str, str]] = (),
    workdir: Path,
) -> Build:
    """``podman build`` on the host network, the CA bundle and pip.conf given as secrets.

    Secrets, not ``-v`` mounts: a build-time volume leaves an empty placeholder file at its
    target in every layer made by a RUN step, the final image's too.
    """
    pip_conf = workdir / "pip.conf"
    pip_conf.write_text(pip_conf_text())
    iidfile = workdir / "iid"
    argv = ["build", "--format", "docker", "--network", "host", "--pull=never", "--layers"]
    argv += ["--secret", f"id=host-ca,src={HOST_CA}", "--secret", f"id=pip-conf,src={pip_conf}"]
    for key, value in build_args:
        argv += ["--build-arg", f"{key}={value}"]
    argv += ["--iidfile", str(iidfile), "-f", str(context / containerfile), "-t", tag, str(context)]
    started = time.monotonic()
    podman.run(*argv, timeout=1200)
    image_id = iidfile.read_text().strip().removeprefix("sha256:")
    return Build(image_id, time.monotonic() - started)


def build_netevd_image(
    podman: Podman, context: Path, tag: str = IMAGE, base: str | None = None
) -> tuple[Build, str]:
    """The base (made if needed) and the netevd image, under the machine-wide lock."""
    with build_lock(), tempfile.TemporaryDirectory(prefix="netevd-image-") as tmp:
        chosen = ensure_base(podman, Path(tmp), base)
        result = build(podman, context, tag, build_args=[("BASE", chosen)], workdir=Path(tmp))
    return result, chosen


def _run(argv: Sequence[str], timeout: float) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise LabError(f"{argv[0]} did not finish within {timeout:g}s") from None
    if result.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed: {(result.stderr or result.stdout)[-2000:]}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lab.containers.image``: build localhost/netevd:latest from this checkout."""
    import argparse

    from lab.containers.podman import write_containers_conf

    parser = argparse.ArgumentParser(
        prog="python -m lab.containers.image", description=main.__doc__
    )
    parser.add_argument("--base", help=f"base image (default: {UPSTREAM_BASE} or a local one)")
    parser.add_argument("--tag", default=IMAGE, help=f"image name (default {IMAGE})")
    parser.add_argument("--context", type=Path, default=Path.cwd(), help="the source tree")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="netevd-podman-") as tmp:
        podman = Podman(write_containers_conf(Path(tmp)))
        try:
            result, base = build_netevd_image(podman, args.context.resolve(), args.tag, args.base)
        except LabError as exc:
            print(f"image: {exc}")
            return 1
        size = podman.image_size(result.image_id)
    print(f"built {args.tag} ({result.image_id[:12]}) on {base} in {result.seconds:.1f}s")
    print(f"size {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def once_per_session(shared_dir: Path, name: str, make: Callable[[], str]) -> str:
    """*make*'s result (an image ID), computed by the first of the session's workers only.

    *shared_dir* is a directory every worker of one test session sees (pytest-xdist's shared
    base temp); the result is kept there, so later workers reuse it instead of building.
    """
    record = shared_dir / f"{name}.image"
    with build_lock(shared_dir / f"{name}.lock"):
        if record.exists():
            return record.read_text()
        value = make()
        record.write_text(value)
        return value
