"""Log lines under journald: the priority prefix of sd-daemon(3), only when stderr is the
journal (JOURNAL_STREAM names stderr's own device and inode)."""

import logging
import os
import re
from pathlib import Path

import pytest

from netevd.system.logging import (
    TRACE,
    JournalFormatter,
    setup_logging,
    stderr_is_journal,
    syslog_priority,
)


@pytest.mark.parametrize(
    ("level", "priority"),
    [
        (logging.CRITICAL, 2),
        (logging.ERROR, 3),
        (logging.WARNING, 4),
        (logging.INFO, 6),
        (logging.DEBUG, 7),
        (TRACE, 7),
    ],
)
def test_levels_map_to_syslog_priorities(level, priority):
    assert syslog_priority(level) == priority


def record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("netevd.test", level, __file__, 1, message, None, None)


def test_the_journal_formatter_prefixes_every_line_with_the_priority():
    formatter = JournalFormatter("level=%(levelname)s %(message)s")
    assert formatter.format(record(logging.WARNING, "script.failed link=eth0")) == (
        "<4>level=WARNING script.failed link=eth0"
    )
    assert formatter.format(record(logging.INFO, "ready")) == "<6>level=INFO ready"
    # journald makes an entry of each line: a traceback's lines keep the error's priority
    assert formatter.format(record(logging.ERROR, "engine.failed\nTraceback\n  x")) == (
        "<3>level=ERROR engine.failed\n<3>Traceback\n<3>  x"
    )


def journal_of(path: Path) -> str:
    info = os.stat(path)
    return f"{info.st_dev}:{info.st_ino}"


def test_stderr_is_the_journal_only_when_the_variable_names_it(tmp_path):
    stream = tmp_path / "stderr"
    other = tmp_path / "other"
    other.touch()
    with stream.open("w") as err:
        assert stderr_is_journal({"JOURNAL_STREAM": journal_of(stream)}, err)
        # inherited by a child whose stderr goes elsewhere: not the journal
        assert not stderr_is_journal({"JOURNAL_STREAM": journal_of(other)}, err)
        for value in ("", "8", "x:y", ":", "8:"):
            assert not stderr_is_journal({"JOURNAL_STREAM": value}, err)
        assert not stderr_is_journal({}, err)


@pytest.fixture
def root_logging():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    root.handlers[:], level = saved
    root.setLevel(level)


def log_lines(tmp_path: Path, monkeypatch, env_for) -> list[str]:
    path = tmp_path / "stderr"
    with path.open("w") as err:
        monkeypatch.setattr("sys.stderr", err)
        setup_logging("debug", env_for(path))
        log = logging.getLogger("netevd.test")
        log.debug("checked")
        log.info("ready")
        log.warning("script.failed exit=3")
        log.error("config.rejected")
    return path.read_text().splitlines()


@pytest.mark.usefixtures("root_logging")
def test_under_journald_lines_carry_priorities_and_no_timestamp(tmp_path, monkeypatch):
    lines = log_lines(tmp_path, monkeypatch, lambda p: {"JOURNAL_STREAM": journal_of(p)})
    assert lines == [
        "<7>level=DEBUG checked",
        "<6>level=INFO ready",
        "<4>level=WARNING script.failed exit=3",
        "<3>level=ERROR config.rejected",
    ]


@pytest.mark.usefixtures("root_logging")
def test_elsewhere_lines_carry_a_timestamp_and_no_priority(tmp_path, monkeypatch):
    lines = log_lines(tmp_path, monkeypatch, lambda p: {"JOURNAL_STREAM": "8:1"})
    assert len(lines) == 4
    timestamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "
    assert re.fullmatch(timestamp + "level=INFO ready", lines[1])
    assert not any(line.startswith("<") for line in lines)
