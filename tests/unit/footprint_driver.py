"""Runs the real daemon (``netevd run -c CONFIG``) and, when it reports READY, prints the
modules it has loaded (one JSON list on stdout) and stops it: what tests/unit/test_footprint.py
asks. Run as a program, in a fresh interpreter, so that nothing but netevd imports anything."""

import json
import os
import signal
import sys
from collections.abc import Mapping

from netevd import app
from netevd.cli import main

real_notify = app.notify


def notify(state: str, env: Mapping[str, str]) -> None:
    real_notify(state, env)
    if state.startswith("READY=1"):
        print(json.dumps(sorted(sys.modules)), flush=True)
        os.kill(os.getpid(), signal.SIGTERM)  # the daemon's own way out


app.notify = notify
sys.exit(main(["run", "-c", sys.argv[1]]))
