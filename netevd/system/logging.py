"""Logging in key=value form, fit for journald (no own timestamps under JOURNAL_STREAM)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

TRACE = 5
LEVELS = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


def setup_logging(level: str, env: Mapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    logging.addLevelName(TRACE, "TRACE")
    journald = bool(env.get("JOURNAL_STREAM"))
    fmt = (
        "level=%(levelname)s %(message)s"
        if journald
        else ("%(asctime)s level=%(levelname)s %(message)s")
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    set_level(level)


def set_level(level: str) -> None:
    logging.getLogger().setLevel(LEVELS.get(level, logging.INFO))
    # pyroute2 logs every datagram at DEBUG; only `trace` wants to see that.
    logging.getLogger("pyroute2").setLevel(TRACE if level == "trace" else logging.WARNING)
