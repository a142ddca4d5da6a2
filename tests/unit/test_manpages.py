"""netevd(8) and netevd.yaml(5) are generated from the parser and the schema; the committed
pages must be exactly what the generator writes now (run `make man` after changing either)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netevd.cli import build_parser
from netevd.cli.manpage import PAGES, render
from netevd.config.reference import MEANINGS, keys
from netevd.config.schema import SCHEMA

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("page", PAGES)
def test_the_committed_page_is_what_the_generator_writes(page):
    committed = (ROOT / "man" / page).read_text()
    assert committed == render()[page], f"man/{page} is stale: run `make man`"


def test_every_key_of_the_schema_is_documented_and_nothing_else():
    documented = {ref.path for ref in keys()}
    assert documented == set(MEANINGS)
    assert {"system.backend", "filters[].match_rule.condition", "routing.tables"} <= documented
    assert set(SCHEMA.fields) == {path.split(".")[0].split("[")[0] for path in documented}


def test_every_command_and_option_is_in_netevd_8():
    page = render()["netevd.8"]
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    for name, command in sub.choices.items():
        assert f".SS {name}\n" in page
        for action in command._actions:
            if action.dest == "help":
                continue  # -h/--help is everywhere and said once
            for option in action.option_strings:
                assert option.replace("-", "\\-") in page, f"{name} {option}"


def test_the_pages_are_installed_where_man_finds_them():
    prefix = Path(sys.prefix)
    for page, section in (("netevd.8", "man8"), ("netevd.yaml.5", "man5")):
        assert (prefix / "share" / "man" / section / page).is_file()
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    env = {**os.environ, "PATH": f"{prefix / 'bin'}:{os.environ.get('PATH', '')}"}
    env.pop("MANPATH", None)
    found = subprocess.run(["man", "-w", "netevd"], capture_output=True, text=True, env=env)
    assert found.stdout.strip() == str(prefix / "share" / "man" / "man8" / "netevd.8")
