"""The image builder's pure parts: which mirror apt uses, the build's pip.conf, podman's
containers.conf, and what slimming leaves in a root file system."""

from __future__ import annotations

import resource

import pytest

from lab.containers.image import Mirrors, apt_mirrors, pip_conf_text, slim_rootfs
from lab.containers.podman import containers_conf_text
from lab.errors import LabError

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example.org/debian
Suites: bookworm

Types: deb
URIs: http://deb.example.org/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirrors_from_deb822_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "other.list").write_text(
        "deb https://packages.example.com/apt cloud-sdk-bookworm main\n"
    )
    assert apt_mirrors(tmp_path) == Mirrors(
        "http://deb.example.org/debian", "http://deb.example.org/debian-security"
    )


def test_mirrors_from_a_one_line_sources_list(tmp_path):
    (tmp_path / "sources.list").write_text(
        "# deb http://old.example.org/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example.org/debian bookworm main\n"
    )
    assert apt_mirrors(tmp_path) == Mirrors("http://mirror.example.org/debian", None)


def test_no_bookworm_mirror_is_a_clear_error(tmp_path):
    (tmp_path / "sources.list").write_text("deb http://x.example.org/debian trixie main\n")
    with pytest.raises(LabError, match="no Debian bookworm mirror"):
        apt_mirrors(tmp_path)


def test_pip_conf_names_the_mounted_ca_and_only_a_network_index(monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.example.org/simple")
    assert pip_conf_text("/ca.pem") == (
        "[global]\ncert = /ca.pem\nindex-url = https://pypi.example.org/simple\n"
    )
    monkeypatch.setenv("PIP_INDEX_URL", "file:///opt/pypi/simple")  # not reachable in a build
    assert pip_conf_text("/ca.pem").splitlines()[:2] == ["[global]", "cert = /ca.pem"]
    assert "file://" not in pip_conf_text("/ca.pem")


def test_containers_conf_stays_within_this_processs_hard_limits():
    text = containers_conf_text()
    nofile_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = int(text.split('"nofile=')[1].split(":")[0])
    assert 0 < nofile <= (nofile_hard if nofile_hard != resource.RLIM_INFINITY else 1 << 20)
    assert 'runtime = "runc"' in text


def test_slimming_keeps_copyright_and_drops_docs_caches_and_host_files(tmp_path):
    for name in (
        "usr/share/doc/bash/copyright",
        "usr/share/doc/bash/README.gz",
        "usr/share/man/man1/bash.1.gz",
        "usr/share/locale/de/LC_MESSAGES/bash.mo",
        "var/lib/apt/lists/deb.example.org_dists_bookworm_InRelease",
        "var/cache/apt/archives/bash_5.2.deb",
        "var/log/bootstrap.log",
        "etc/resolv.conf",
        "etc/hostname",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    for directory in ("etc/dpkg/dpkg.cfg.d", "etc/apt/apt.conf.d"):
        (tmp_path / directory).mkdir(parents=True)
    slim_rootfs(tmp_path, Mirrors("http://m.example.org/debian", "http://m.example.org/sec"))
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == [
        "etc/apt/apt.conf.d/docker-clean",
        "etc/apt/sources.list",
        "etc/dpkg/dpkg.cfg.d/netevd-slim",
        "usr/share/doc/bash/copyright",
    ]
    assert (tmp_path / "etc/apt/sources.list").read_text().splitlines() == [
        "deb http://m.example.org/debian bookworm main",
        "deb http://m.example.org/debian bookworm-updates main",
        "deb http://m.example.org/sec bookworm-security main",
    ]
