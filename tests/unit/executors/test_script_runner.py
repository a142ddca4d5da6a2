"""run_script: one real script, its environment, output, exit status, timeout and kill."""

from __future__ import annotations

import time
from pathlib import Path

from lab.wait import wait_until
from netevd.executors.scripts.runner import (
    FIXED_PATH,
    MAX_LINE,
    run_script,
    script_environment,
)


def write(path: Path, text: str, mode: int = 0o755) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_environment_is_fixed_path_lang_tz_and_the_event():
    base = {"HOME": "/root", "LANG": "C.UTF-8", "TZ": "UTC", "PATH": "/evil", "X": "1"}
    env = script_environment({"LINK": "eth0"}, base)
    assert env == {"PATH": FIXED_PATH, "LANG": "C.UTF-8", "TZ": "UTC", "LINK": "eth0"}
    assert script_environment({}, {}) == {"PATH": FIXED_PATH}


async def test_exit_code_and_output_and_clean_process_context(tmp_path: Path):
    # cwd is /, stdin is /dev/null (cat sees EOF at once), stderr is merged into stdout.
    script = write(tmp_path / "s", "#!/bin/sh\npwd\ncat\necho err >&2\nexit 3\n")
    result = await run_script(script, {"PATH": FIXED_PATH}, 5, 1000)
    assert (result.exit_code, result.timed_out, result.error) == (3, False, "")
    assert result.output == "/\nerr\n"
    assert result.output_truncated == 0


async def test_environment_reaches_execve_exactly(tmp_path: Path):
    out = tmp_path / "env"
    # /proc/$$/environ is what execve received, before the shell adds PWD and friends.
    script = write(tmp_path / "s", "#!/bin/sh\ntr '\\0' '\\n' < /proc/$$/environ > \"$OUT\"\n")
    env = script_environment({"OUT": str(out), "LINK": "eth0"}, {"HOME": "/root", "TZ": "UTC"})
    result = await run_script(script, env, 5, 1000)
    assert result.exit_code == 0
    assert set(out.read_text().splitlines()) == {
        f"PATH={FIXED_PATH}",
        "TZ=UTC",
        f"OUT={out}",
        "LINK=eth0",
    }


async def test_a_relative_path_is_taken_from_our_directory_not_the_scripts(
    tmp_path: Path, monkeypatch
):
    write(tmp_path / "s", "#!/bin/sh\npwd\n")
    monkeypatch.chdir(tmp_path)
    result = await run_script(Path("s"), {}, 5, 1000)
    assert (result.exit_code, result.output) == (0, "/\n")


async def test_missing_shebang_is_an_exec_format_error(tmp_path: Path):
    script = write(tmp_path / "s", "echo hi\n")
    result = await run_script(script, {}, 5, 1000)
    assert result.exit_code is None
    assert result.error == "exec format error: missing #! line?"
    assert not result.timed_out


async def test_missing_interpreter_and_not_executable_are_reported(tmp_path: Path):
    missing = write(tmp_path / "m", "#!/nonexistent/interpreter\n")
    result = await run_script(missing, {}, 5, 1000)
    assert (result.exit_code, result.error.split(" (")[0]) == (None, "no such file")
    plain = write(tmp_path / "p", "#!/bin/sh\n", mode=0o644)
    result = await run_script(plain, {}, 5, 1000)
    # Even root needs an x bit to execve a file.
    assert (result.exit_code, result.error.split(" (")[0]) == (None, "permission denied")


async def test_timeout_kills_the_script_and_its_grandchild(
    tmp_path: Path, reap_pids: list[int], gone
):
    pids = tmp_path / "pids"
    script = write(
        tmp_path / "s",
        f'#!/bin/sh\nsleep 60 &\necho $! > "{pids}"\necho $$ >> "{pids}"\nwait\n',
    )
    result = await run_script(script, {}, 0.3, 1000)
    assert (result.exit_code, result.timed_out, result.error) == (None, True, "")
    assert result.duration >= 0.3
    found = [int(pid) for pid in pids.read_text().split()]
    reap_pids.extend(found)
    assert len(found) == 2
    await wait_until(lambda: all(gone(pid) for pid in found), timeout=5, message="group killed")


async def test_output_keeps_only_the_tail(tmp_path: Path):
    script = write(tmp_path / "s", "#!/bin/sh\nhead -c 1048576 /dev/zero | tr '\\0' x\necho end\n")
    result = await run_script(script, {}, 5, 65536)
    assert result.exit_code == 0
    assert len(result.output.encode()) == 65536
    assert result.output.endswith("xxxend\n")
    assert result.output_truncated == 1048576 + 4 - 65536


async def test_lines_are_handed_over_and_long_lines_split(tmp_path: Path):
    script = write(
        tmp_path / "s",
        "#!/bin/sh\necho one\nprintf 'two\\r\\n'\nhead -c 10000 /dev/zero | tr '\\0' y\n",
    )
    lines: list[str] = []
    result = await run_script(script, {}, 5, 100, on_line=lines.append)
    assert result.exit_code == 0
    assert lines[:2] == ["one", "two"]
    assert [len(line) for line in lines[2:]] == [MAX_LINE, MAX_LINE, 10000 - 2 * MAX_LINE]


async def test_background_child_holding_stdout_is_killed_when_the_script_exits(
    tmp_path: Path, reap_pids: list[int], gone
):
    pid_file = tmp_path / "pid"
    script = write(tmp_path / "s", f'#!/bin/sh\nsleep 30 &\necho $! > "{pid_file}"\necho done\n')
    start = time.monotonic()
    result = await run_script(script, {}, 5, 1000)
    elapsed = time.monotonic() - start
    pid = int(pid_file.read_text())
    reap_pids.append(pid)
    assert (result.exit_code, result.output) == (0, "done\n")
    assert elapsed < 2.5
    # SIGKILL was sent to the group when the script exited; its delivery is asynchronous.
    assert await wait_until(lambda: gone(pid), 2, message="background child killed")
