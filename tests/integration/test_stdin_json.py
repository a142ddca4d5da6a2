"""scripts.stdin_json: the event document (NETEVD_JSON) also on each script's standard input.

The real netevd in a lab namespace; the scripts read their stdin as a user's script would
(``jq``-style: the whole of it) and say what stdin was.
"""

from __future__ import annotations

import json

from lab.net.topologies import host_peer
from lab.netevd import RECORDER, ScriptDirs, check_document

# What came on stdin and what stdin was, kept before the run is recorded (so a test that sees
# the run finds them).
READ_STDIN = """#!/bin/sh
cat > "{out}/stdin-$$.json"
readlink /proc/$$/fd/0 > "{out}/stdin-$$.what"
"""


def reader(scripts: ScriptDirs) -> None:
    """routable.d/50-read-stdin: READ_STDIN, then the lab's recorder (without its #! line)."""
    recorder = RECORDER.split("\n", 1)[1].format(out=scripts.out, extra="")
    scripts.add_raw("routable", "50-read-stdin", READ_STDIN.format(out=scripts.out) + recorder)


async def test_the_document_comes_on_stdin_and_validates(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.0.0.1/24"], ["10.0.0.254/24"], gateway="10.0.0.254"))
    scripts = ScriptDirs(tmp_path / "scripts")
    reader(scripts)
    await netevd(built, scripts, scripts={"stdin_json": True})
    (run,) = await scripts.wait_for(LINK="eth0", STATE="routable")
    pid = run.script.rsplit("-", 1)[1].removesuffix(".env")
    text = (scripts.out / f"stdin-{pid}.json").read_text()
    assert text == run.env["NETEVD_JSON"]
    document = check_document(text)
    assert (document["state"], document["link"]["name"]) == ("routable", "eth0")
    assert (scripts.out / f"stdin-{pid}.what").read_text().startswith("/memfd:netevd-event")


async def test_off_by_default_stdin_is_dev_null(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.0.0.1/24"], ["10.0.0.254/24"], gateway="10.0.0.254"))
    scripts = ScriptDirs(tmp_path / "scripts")
    reader(scripts)
    await netevd(built, scripts)
    (run,) = await scripts.wait_for(LINK="eth0", STATE="routable")
    pid = run.script.rsplit("-", 1)[1].removesuffix(".env")
    assert (scripts.out / f"stdin-{pid}.json").read_text() == ""
    assert (scripts.out / f"stdin-{pid}.what").read_text().strip() == "/dev/null"
    assert json.loads(run.env["NETEVD_JSON"])["schema"] == "netevd.event.v1"
