"""Which scripts run, in what order, and each skip reason warned about exactly once."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from netevd.executors.scripts import ScriptSettings
from netevd.executors.scripts.discovery import LEFTOVER, MASKED, discover, unscripted

ROOT = os.geteuid() == 0
OK = "#!/bin/sh\nexit 0\n"


def skipped_warnings(caplog: pytest.LogCaptureFixture, path: Path) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
        and r.getMessage().startswith("script.skipped ")
        and f"path={path} " in r.getMessage()
    ]


def test_scripts_run_in_byte_order_of_their_names(tree):
    for name in ("20-b", "10-a", "B", "a", "_x", "2", "10-a.sh"):
        tree.script("routable", name, OK)
    paths, verdicts = discover(tree.settings(), "routable")
    assert [p.name for p in paths] == ["10-a", "10-a.sh", "2", "20-b", "B", "_x", "a"]
    assert [v.name for v in verdicts] == [p.name for p in paths]
    assert all(v.runs and v.reason == "" for v in verdicts)


def test_earlier_base_shadows_later_by_name(tree):
    mine = tree.script("routable", "20-x", OK, base=0)
    vendors = tree.script("routable", "20-x", OK, base=1)
    other = tree.script("routable", "10-y", OK, base=1)
    paths, verdicts = discover(tree.settings(), "routable")
    assert paths == [other, mine]
    by_path = {v.path: v for v in verdicts}
    assert by_path[str(vendors)].reason == f"shadowed by {mine}"
    assert not by_path[str(vendors)].runs
    assert by_path[str(mine)].runs
    assert by_path[str(mine)].directory == "routable"


def test_a_broken_override_still_shadows_the_vendor_script(tree):
    tree.script("routable", "20-x", OK, base=0, mode=0o644)
    vendors = tree.script("routable", "20-x", OK, base=1)
    paths, verdicts = discover(tree.settings(), "routable")
    assert paths == []
    assert [v.reason for v in verdicts] == ["not executable", f"shadowed by {verdicts[0].path}"]
    assert verdicts[1].path == str(vendors)


def test_symlink_to_dev_null_masks_quietly(tree, caplog):
    tree.base(0)
    (tree.base(0) / "routable.d").mkdir(mode=0o755)
    mask = tree.base(0) / "routable.d" / "50-vendor"
    mask.symlink_to("/dev/null")
    tree.script("routable", "50-vendor", OK, base=1)
    caplog.set_level(logging.DEBUG, logger="netevd.scripts")
    paths, verdicts = discover(tree.settings(), "routable")
    assert paths == []
    assert verdicts[0].reason == MASKED
    assert not skipped_warnings(caplog, mask)


def test_a_good_symlink_runs(tree, tmp_path):
    target_dir = tmp_path / "lib"
    target_dir.mkdir(mode=0o755)
    target_dir.chmod(0o755)
    target = target_dir / "real"
    target.write_text(OK)
    target.chmod(0o755)
    tree.script("routable", "placeholder", OK)
    link = tree.base(0) / "routable.d" / "10-link"
    link.symlink_to(target)
    paths, _ = discover(tree.settings(), "routable")
    assert paths == [link, tree.base(0) / "routable.d" / "placeholder"]


def test_missing_directories_mean_nothing_to_run(tree):
    assert discover(tree.settings(), "routable") == ([], [])


@pytest.mark.parametrize("directory", ["../etc", "Routable", "a/b", "x\n", "", "1x", "a.d"])
def test_directory_names_outside_the_enum_are_refused(tree, caplog, directory):
    tree.script("routable", "10-a", OK)
    assert discover(tree.settings(), directory) == ([], [])
    assert any(r.levelno == logging.ERROR for r in caplog.records)


# -- every skip reason: one warning across runs ------------------------------------------------

Setup = Callable[..., tuple[Path, str]]


def _mode(mode: int, reason: str) -> Setup:
    def setup(tree, tmp_path) -> tuple[Path, str]:
        return tree.script("routable", "50-bad", OK, mode=mode), reason

    return setup


def _leftover(name: str) -> Setup:
    def setup(tree, tmp_path) -> tuple[Path, str]:
        return tree.script("routable", name, OK), LEFTOVER

    return setup


def _not_regular(tree, tmp_path) -> tuple[Path, str]:
    path = tree.script("routable", "10-ok", OK).parent / "50-dir"
    path.mkdir(mode=0o755)
    return path, "not a regular file"


def _fifo(tree, tmp_path) -> tuple[Path, str]:
    path = tree.script("routable", "10-ok", OK).parent / "50-fifo"
    os.mkfifo(path, 0o755)
    return path, "not a regular file"


def _dir_mode(mode: int, reason: str) -> Setup:
    def setup(tree, tmp_path) -> tuple[Path, str]:
        path = tree.script("routable", "50-good", OK)
        path.parent.chmod(mode)
        return path, reason

    return setup


def _symlink(target_dir_mode: int, target_mode: int, reason: str) -> Setup:
    def setup(tree, tmp_path) -> tuple[Path, str]:
        target_dir = tmp_path / "elsewhere"
        target_dir.mkdir()
        target = target_dir / "real"
        target.write_text(OK)
        target.chmod(target_mode)
        target_dir.chmod(target_dir_mode)
        path = tree.script("routable", "10-ok", OK).parent / "50-link"
        path.symlink_to(target)
        return path, reason.format(target_dir=target_dir)

    return setup


def _broken_symlink(tree, tmp_path) -> tuple[Path, str]:
    path = tree.script("routable", "10-ok", OK).parent / "50-broken"
    path.symlink_to(tmp_path / "nowhere")
    return path, "broken symlink"


def _foreign_owner(tree, tmp_path) -> tuple[Path, str]:
    path = tree.script("routable", "50-nobody", OK)
    os.chown(path, 65534, 65534)
    return path, "not owned by root"


LEFTOVERS = [
    "x~",
    ".hidden",
    "x.rpmsave",
    "x.rpmnew",
    "x.rpmorig",
    "x.dpkg-old",
    "x.dpkg-new",
    "x.dpkg-dist",
    "x.dpkg-tmp",
    "x.dpkg-bak",
    ".x.swp",
    "x.bak",
]
CASES: dict[str, Setup] = {
    **{f"leftover {name}": _leftover(name) for name in LEFTOVERS},
    "not executable": _mode(0o644, "not executable"),
    "group-writable": _mode(0o775, "group-writable"),
    "world-writable": _mode(0o757, "world-writable"),
    "setuid": _mode(0o4755, "setuid"),
    "setgid": _mode(0o2755, "setgid"),
    "directory": _not_regular,
    "fifo": _fifo,
    "dir world-writable": _dir_mode(0o777, "directory is world-writable"),
    "dir group-writable": _dir_mode(0o775, "directory is group-writable"),
    "symlink target dir": _symlink(0o777, 0o755, "directory {target_dir} is world-writable"),
    "symlink target mode": _symlink(0o755, 0o775, "group-writable"),
    "broken symlink": _broken_symlink,
}


@pytest.mark.parametrize("case", list(CASES))
async def test_each_skip_reason_is_warned_once_across_runs(
    case, tree, tmp_path, caplog, harness, make_run
):
    path, reason = CASES[case](tree, tmp_path)
    await _assert_skipped_once(tree.settings(), path, reason, caplog, harness, make_run)


@pytest.mark.skipif(not ROOT, reason="needs root to give a file to another owner")
async def test_foreign_owner_is_skipped(tree, tmp_path, caplog, harness, make_run):
    path, reason = _foreign_owner(tree, tmp_path)
    settings = tree.settings(allowed_uids=frozenset())
    await _assert_skipped_once(settings, path, reason, caplog, harness, make_run)


async def test_directory_owned_by_someone_else_is_skipped(
    tree, tmp_path, caplog, harness, make_run
):
    path = tree.script("routable", "50-good", OK)
    if ROOT:
        os.chown(path.parent, 65534, 65534)
        settings = tree.settings(allowed_uids=frozenset())
    else:  # our own directory, but only root is allowed
        settings = tree.settings(allowed_uids=frozenset({0}))
    reason = "directory not owned by root"
    await _assert_skipped_once(settings, path, reason, caplog, harness, make_run)


async def _assert_skipped_once(
    settings: ScriptSettings, path: Path, reason: str, caplog, harness, make_run
) -> None:
    caplog.set_level(logging.INFO, logger="netevd.scripts")
    executor = harness.executor(settings)
    for seq in (1, 2):
        executor.submit(make_run(seq=seq))
        await executor.idle()
    warnings = skipped_warnings(caplog, path)
    assert warnings == [f'script.skipped path={path} reason="{reason}"']
    verdict = {v.path: v for v in executor.scan(["routable"])}[str(path)]
    assert (verdict.runs, verdict.reason) == (False, reason)
    assert executor.stats.skipped_scripts == 2
    assert all(f.script != str(path) for f in harness.finished)


async def test_warned_again_after_a_change_or_a_reload(tree, caplog, harness, make_run):
    caplog.set_level(logging.INFO, logger="netevd.scripts")
    path = tree.script("routable", "50-bad", OK, mode=0o775)
    settings = tree.settings()
    executor = harness.executor(settings)

    async def one_run(seq: int) -> None:
        executor.submit(make_run(seq=seq))
        await executor.idle()

    await one_run(1)
    await one_run(2)
    assert len(skipped_warnings(caplog, path)) == 1
    path.chmod(0o757)  # a different problem: say so
    await one_run(3)
    assert len(skipped_warnings(caplog, path)) == 2
    executor.update(settings)  # SIGHUP: the admin wants to hear it again
    await one_run(4)
    assert len(skipped_warnings(caplog, path)) == 3
    path.chmod(0o755)  # fixed: it runs, and breaking it again later warns again
    await one_run(5)
    assert harness.finished[-1].script == str(path)
    path.chmod(0o757)
    await one_run(6)
    assert len(skipped_warnings(caplog, path)) == 4


def test_scan_lists_every_directory_without_logging(tree, caplog):
    from netevd.executors.scripts import scan_all

    caplog.set_level(logging.DEBUG, logger="netevd.scripts")
    tree.script("routable", "10-a", OK)
    tree.script("carrier", "10-b", OK, mode=0o775)
    verdicts = scan_all(tree.settings(), ["routable", "carrier", "no-carrier", "../x"])
    assert [(v.directory, v.name, v.runs, v.reason) for v in verdicts] == [
        ("routable", "10-a", True, ""),
        ("carrier", "10-b", False, "group-writable"),
    ]
    assert not caplog.records


def test_unscripted_names_the_directories_with_no_entry_in_any_base(tree):
    tree.script("carrier", "50-x", "true", base=1)  # in the later base only: still scripted
    (tree.base(0) / "routable.d").mkdir()  # there but empty
    tree.script("degraded", ".hidden", "true")  # any entry counts, even one never run
    names = ["carrier", "routable", "degraded", "off"]
    assert unscripted(tree.settings(), names) == {"routable", "off"}
