"""netevd(8) and netevd.yaml(5), generated from the command line's own parser and the
configuration schema's own reference, so the pages cannot drift from what netevd accepts
(tests/unit/test_manpages.py compares the committed pages in man/ with what this writes).

``python -m netevd.cli.manpage DIR`` (``make man``) writes both pages into DIR.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from netevd import __version__
from netevd.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, build_parser
from netevd.config import DEFAULT_PATH
from netevd.config.environment import ENV_HELP
from netevd.config.reference import KeyRef, keys

PAGES = ("netevd.8", "netevd.yaml.5")


def esc(text: str) -> str:
    """Text for roff: backslashes doubled, hyphens literal, no line starting a request."""
    out = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + out if out.startswith((".", "'")) else out


def _header(name: str, section: int, title: str) -> list[str]:
    return [
        f'.TH {name.upper()} {section} "" "netevd {__version__}" "netevd"',
        ".SH NAME",
        f"{esc(name)} \\- {esc(title)}",
    ]


def _value(action: argparse.Action) -> str:
    """What an option takes: its metavar, else its choices, else its name."""
    if isinstance(action.metavar, str):
        return action.metavar
    if action.choices:
        return "|".join(str(c) for c in action.choices)
    return action.dest if not action.option_strings else action.dest.upper()


def _option(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"\\fI{esc(_value(action))}\\fR"
    names = ", ".join(f"\\fB{esc(o)}\\fR" for o in action.option_strings)
    if action.nargs == 0:
        return names
    return f"{names} \\fI{esc(_value(action))}\\fR"


def _actions(parser: argparse.ArgumentParser) -> list[str]:
    lines: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        lines += [".TP", _option(action), esc(action.help or "")]
    return lines


def _subcommands(parser: argparse.ArgumentParser) -> Iterable[tuple[str, str, Sequence[str]]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), _actions(sub)


def netevd_8() -> str:
    parser = build_parser()
    lines = _header("netevd", 8, "network event daemon: scripts on network changes")
    lines += [
        ".SH SYNOPSIS",
        "\\fBnetevd\\fR [\\fB\\-c\\fR \\fIFILE\\fR] [\\fIcommand\\fR [\\fIoptions\\fR]]",
        ".SH DESCRIPTION",
        esc(
            "netevd watches the kernel (rtnetlink), systemd-networkd and NetworkManager (D-Bus) "
            "and dhclient (lease files). On every change it runs the scripts of the event's "
            "directory (/etc/netevd/<state>.d/) with the full context in their environment, "
            "keeps per-interface policy routing right on multi-homed hosts, and serves a REST "
            "API, an event stream and Prometheus metrics. Without a command it runs the daemon "
            "in the foreground; the configuration is netevd.yaml(5)."
        ),
        ".SH OPTIONS",
        *_actions(parser),
        ".SH COMMANDS",
    ]
    for name, help_text, options in _subcommands(parser):
        lines += [".SS " + esc(name), esc(help_text), *options]
    lines += _static_8()
    return "\n".join(lines) + "\n"


def _static_8() -> list[str]:
    return _signals() + _environment() + _files() + _exit_status() + _see_also()


def _signals() -> list[str]:
    return [
        ".SH SIGNALS",
        ".TP",
        "\\fBSIGTERM\\fR, \\fBSIGINT\\fR",
        esc(
            "Stop: no new scripts; running ones get scripts.shutdown_grace seconds, then their "
            "process groups are killed."
        ),
        ".TP",
        "\\fBSIGHUP\\fR",
        esc(
            "Reload the configuration and the script directories; a configuration that does "
            "not load is reported and the running one kept (as netevd reload)."
        ),
    ]


def _environment() -> list[str]:
    return [
        ".SH ENVIRONMENT",
        *[line for name, text in ENV_HELP for line in (".TP", f"\\fB{name}\\fR", esc(text))],
        ".TP",
        "\\fBNETEVD_API_ENDPOINT\\fR, \\fBNETEVD_API_TOKEN\\fR",
        esc("Where the client commands reach the daemon's API, and the token they send."),
        ".TP",
        "\\fBDBUS_SYSTEM_BUS_ADDRESS\\fR",
        esc("The system bus to follow systemd-networkd or NetworkManager on."),
    ]


def _files() -> list[str]:
    return [
        ".SH FILES",
        ".TP",
        f"\\fI{esc(DEFAULT_PATH)}\\fR",
        esc("The configuration, netevd.yaml(5); absent means every default."),
        ".TP",
        "\\fI/etc/netevd/<state>.d/\\fR, \\fI/usr/lib/netevd/<state>.d/\\fR",
        esc(
            "Scripts per state (carrier, no-carrier, routable, configured, activated, routes, "
            "manager, ...), run in name order; an earlier directory shadows a later one."
        ),
        ".TP",
        "\\fI/var/lib/netevd/tables.json\\fR",
        esc("The policy-routing tables netevd chose, kept across restarts."),
    ]


def _exit_status() -> list[str]:
    return [
        ".SH EXIT STATUS",
        ".TP",
        str(EXIT_OK),
        esc("Success; for wait: the condition holds."),
        ".TP",
        str(EXIT_FAILURE),
        esc(
            "A failure at run time (the daemon could not run, a source could not come back, "
            "the API could not be reached, a wait timed out)."
        ),
        ".TP",
        str(EXIT_USAGE),
        esc(
            "A usage or configuration error; the message names the key, the value and what "
            "is allowed."
        ),
    ]


def _see_also() -> list[str]:
    return [
        ".SH SEE ALSO",
        "\\fBnetevd.yaml\\fR(5), \\fBsystemd-networkd\\fR(8), \\fBNetworkManager\\fR(8), "
        "\\fBdhclient\\fR(8), \\fBip\\-rule\\fR(8)",
    ]


def _key(ref: KeyRef) -> list[str]:
    return [
        ".TP",
        f"\\fB{esc(ref.path)}\\fR (\\fI{esc(ref.kind)}\\fR, default \\fB{esc(ref.default)}\\fR)",
        esc(ref.meaning),
        ".br",
        esc(f"Allowed: {ref.allowed}."),
    ]


def netevd_yaml_5() -> str:
    lines = _header("netevd.yaml", 5, "configuration of netevd(8)")
    lines += [
        ".SH SYNOPSIS",
        f"\\fI{esc(DEFAULT_PATH)}\\fR",
        ".SH DESCRIPTION",
        esc(
            "YAML; every key is optional and no file means every default. Unknown keys are "
            "reported with their path (an error under netevd validate --strict). A bad value "
            "is an error that names the key, the value and what is allowed. The earlier YAML "
            "(system.generator, network.*) and the Go predecessor's TOML are read too, with a "
            "warning; netevd validate prints the effective configuration in this schema."
        ),
    ]
    section = ""
    for ref in keys():
        top = ref.path.split(".", 1)[0].split("[", 1)[0]
        if top != section:
            section = top
            lines.append(".SH " + esc(section.upper()))
        lines += _key(ref)
    lines += [
        ".SH CONDITIONS",
        esc(
            "filters[].match_rule.condition is a small expression: has_gateway, "
            'dns_count >= N (also ==, !=, <, <=, >), interface == "NAME", combined with && and '
            "|| (&& binds tighter)."
        ),
        ".SH ENVIRONMENT",
        *[line for name, text in ENV_HELP for line in (".TP", f"\\fB{name}\\fR", esc(text))],
        ".SH SEE ALSO",
        "\\fBnetevd\\fR(8)",
    ]
    return "\n".join(lines) + "\n"


def render() -> dict[str, str]:
    return {"netevd.8": netevd_8(), "netevd.yaml.5": netevd_yaml_5()}


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m netevd.cli.manpage DIR", file=sys.stderr)
        return EXIT_USAGE
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (out / name).write_text(text)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
