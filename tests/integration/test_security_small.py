"""Issue 10, attack 6: the smaller findings, replayed on the real daemon where they show there.

On 253553e: a non-ASCII bearer token answered 500 with a traceback; a system.user that does not
exist left the daemon running as full root; the daemon did not set no-new-privileges; an
uncreatable system.state_dir ended it with a bare "[Errno 2]"; a state_dir that is a symlink
was chowned through it.
"""

import os

from lab import host_peer
from lab.netevd import NetevdProcess, ScriptDirs, netevd_config, write_config

TOKEN = "s3cret-token-0123456789"


async def test_a_non_ascii_token_is_a_401(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.54.1/24"], ["10.231.54.2/24"]))
    daemon = await netevd(built, ScriptDirs(tmp_path / "scripts"), api={"token": TOKEN})
    api = daemon.http
    headers = {
        "Authorization": "Bearer t\u00f6ken-\u00e9\u00e8",
        "Content-Type": "application/json",
    }
    async with api.session.post(api.base + "/api/v1/reload", headers=headers) as response:
        assert response.status == 401
    assert "Traceback" not in daemon.proc.output()


async def _exit_of(lab, built, tmp_path, **system) -> tuple[int, str]:
    scripts = ScriptDirs(tmp_path / "scripts")
    config = write_config(tmp_path / "netevd.yaml", netevd_config(scripts, system=system))
    proc = await built.start_process(NetevdProcess(built.ns("host"), config))
    code = await proc.wait_exit(20)
    return code, proc.output()


async def test_a_user_that_does_not_exist_refuses_to_start(lab, tmp_path):
    built = await lab(host_peer(["10.231.55.1/24"]))
    code, output = await _exit_of(lab, built, tmp_path, user="no-such-user-x")
    assert code == 2
    assert "system.user: no user named 'no-such-user-x'" in output


async def test_an_uncreatable_state_dir_is_named(lab, tmp_path):
    built = await lab(host_peer(["10.231.56.1/24"]))
    state = tmp_path / "file" / "state"
    (tmp_path / "file").write_text("not a directory")
    code, output = await _exit_of(lab, built, tmp_path, user="nobody", state_dir=str(state))
    assert code == 1
    assert f"system.state_dir {state} cannot be created or opened" in output
    assert "netevd: [Errno" not in output


async def test_a_state_dir_symlink_is_not_followed(lab, tmp_path):
    built = await lab(host_peer(["10.231.57.1/24"]))
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "state").symlink_to(target)
    code, output = await _exit_of(
        lab, built, tmp_path, user="nobody", state_dir=str(tmp_path / "state")
    )
    assert code == 1
    assert "it is a symlink" in output
    assert os.stat(target).st_uid == 0, "the symlink's target kept its owner"


async def test_scripts_run_with_no_new_privileges(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.58.1/24"], ["10.231.58.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    out = tmp_path / "nnp"
    # written aside and renamed: the shell creates the file before grep has written to it
    scripts.add(
        "carrier", extra=f'grep NoNewPrivs /proc/$$/status > "{out}.tmp" && mv "{out}.tmp" "{out}"'
    )
    daemon = await netevd(built, scripts)
    await scripts.wait_for(1, STATE="carrier")
    await daemon.proc.wait_until(out.exists, 10)
    assert out.read_text().split() == ["NoNewPrivs:", "1"]
