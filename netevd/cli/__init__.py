"""Command line entry point: parses arguments and maps errors to exit codes (0 ok, 1 runtime
failure, 2 usage or configuration error). Nothing below this module calls sys.exit.

Each command imports what it uses when it runs: ``wait``, ``status``, ``list`` and ``events``
never load the configuration's stack, the daemon, aiohttp or pyroute2
(tests/unit/test_footprint.py)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence

from netevd import __version__
from netevd.core.kinds import KINDS
from netevd.core.online import WAITABLE, Condition
from netevd.errors import ConfigError, RuntimeFailure, UsageError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
CLIENT_COMMANDS = frozenset({"status", "list", "show", "events", "reload"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netevd", description="Network event daemon")
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="configuration file (default /etc/netevd/netevd.yaml)",
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the daemon in the foreground (the default)")
    run.add_argument("-c", "--config", dest="sub_config", metavar="FILE", help="configuration file")
    validate = sub.add_parser("validate", help="check the configuration and print it")
    validate.add_argument(
        "-c", "--config", dest="sub_config", metavar="FILE", help="configuration file"
    )
    validate.add_argument("--strict", action="store_true", help="unknown keys are errors")
    sub.add_parser("version", help="print the version")
    add_test_command(sub)
    add_client_commands(sub)
    add_wait_command(sub)
    return parser


def add_test_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    test = sub.add_parser("test", help="run one script with the environment a real event gives")
    test.add_argument("script", help="path of the script to run")
    test.add_argument("-i", "--interface", required=True, help="interface name")
    test.add_argument("-s", "--state", required=True, help="state directory, e.g. routable")
    test.add_argument("--event", help="EVENT value (default: link, or new for routes)")
    test.add_argument(
        "--tree",
        default="netevd",
        choices=("netevd", "networkd-dispatcher", "nm-dispatcher"),
        help="run it as that tool would: its arguments and environment (--state is then one "
        "of networkd-dispatcher's states, or nm-dispatcher's action: up, down, ...)",
    )
    test.add_argument(
        "--endpoint",
        help="the daemon whose picture of the network managers is used (default "
        "$NETEVD_API_ENDPOINT or http://127.0.0.1:9090; with neither given and no daemon "
        "there, the kernel's picture only)",
    )
    test.add_argument(
        "-c", "--config", dest="sub_config", metavar="FILE", help="configuration file"
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0 to 86400")
    return value


def add_wait_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    wait = sub.add_parser(
        "wait",
        help="exit 0 once interfaces are in a state (at once if they already are), 1 on timeout",
    )
    wait.add_argument(
        "-i",
        "--interface",
        action="append",
        default=[],
        metavar="NAME|GLOB",
        help="interfaces to wait for (repeatable; default: every monitored one but loopback)",
    )
    wait.add_argument(
        "-s",
        "--state",
        choices=WAITABLE,
        default="routable",
        metavar="STATE",
        help="operational states are levels (degraded is met by routable too); "
        "administrative and device states must match: " + ", ".join(WAITABLE),
    )
    wait.add_argument("--any", action="store_true", help="one interface in the state suffices")
    wait.add_argument("-t", "--timeout", type=_seconds, default=120.0, help="seconds (default 120)")
    wait.add_argument(
        "--endpoint",
        help="the daemon's API (default $NETEVD_API_ENDPOINT or http://127.0.0.1:9090; "
        "with neither given and no daemon there, the kernel is watched directly)",
    )


def cmd_wait(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from netevd.cli.wait_command import wait

    condition = Condition(args.state, tuple(args.interface), args.any)
    return asyncio.run(wait(condition, args.timeout, args.endpoint, env))


def _event_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 1 to 1000")
    return value


def add_client_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands that ask the running daemon, through its API."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--format", choices=("text", "json"), default="text", help="output (default text)"
    )
    common.add_argument(
        "--endpoint",
        help="http://HOST:PORT or unix:/PATH of the daemon's API "
        "(default $NETEVD_API_ENDPOINT or http://127.0.0.1:9090)",
    )
    sub.add_parser("status", parents=[common], help="the daemon's status and counts")
    listing = sub.add_parser("list", parents=[common], help="list what the daemon sees")
    listing.add_argument(
        "what", choices=("interfaces", "routes", "rules", "scripts"), help="what to list"
    )
    show = sub.add_parser("show", parents=[common], help="one interface in detail")
    show.add_argument("kind", choices=("interface",), help="what to show")
    show.add_argument("name", help="interface name")
    add_events_command(sub, common)
    reload = sub.add_parser("reload", parents=[common], help="re-read the configuration")
    reload.add_argument(
        "--token-file", help="file with the API token (default $NETEVD_API_TOKEN, if set)"
    )
    reload.add_argument(
        "--pid",
        type=int,
        help="send SIGHUP to this netevd process instead of asking the API (what the unit's "
        "ExecReload does with $MAINPID; the outcome is in the daemon's log)",
    )


def add_events_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    events = sub.add_parser("events", parents=[common], help="recent events; -f to follow")
    events.add_argument("-f", "--follow", action="store_true", help="then print new ones live")
    events.add_argument("-i", "--interface", help="only this interface's events")
    events.add_argument(
        "-t",
        "--type",
        choices=KINDS,
        metavar="TYPE",
        help="only events of this type: " + ", ".join(KINDS),
    )
    events.add_argument(
        "-n", type=_event_count, default=10, help="how many recent events (1-1000, default 10)"
    )


def _config_path(args: argparse.Namespace) -> str | None:
    sub_config: str | None = getattr(args, "sub_config", None)
    return sub_config or args.config


def cmd_validate(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from netevd.config import load_config, render_config

    try:
        loaded = load_config(_config_path(args), env, strict=args.strict)
    except ConfigError as exc:
        print(
            f"netevd: invalid configuration ({_config_path(args) or 'defaults'}):", file=sys.stderr
        )
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return EXIT_USAGE
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"# effective configuration from {loaded.source}")
    print(render_config(loaded.config), end="")
    return EXIT_OK


def cmd_test(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from netevd.cli.test_command import run_test
    from netevd.config import load_config

    loaded = load_config(_config_path(args), env)
    return asyncio.run(
        run_test(
            args.script,
            args.interface,
            args.state,
            args.event,
            loaded.config,
            env,
            args.tree,
            args.endpoint,
        )
    )


def dispatch(command: str, args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Run one command; exceptions carry the message and the exit code (see main)."""
    if command == "version":
        print(f"netevd {__version__}")
        return EXIT_OK
    if command == "validate":
        return cmd_validate(args, env)
    if command == "test":
        return cmd_test(args, env)
    if command == "wait":
        return cmd_wait(args, env)
    if command == "reload" and args.pid is not None:
        from netevd.cli.signal_reload import signal_reload

        return signal_reload(args.pid)
    if command in CLIENT_COMMANDS:
        from netevd.client import run_client

        return run_client(args, env)
    from netevd.app import run

    return run(_config_path(args), env)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ) if env is None else env
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return dispatch(args.command or "run", args, env)
    except ConfigError as exc:
        print(f"netevd: invalid configuration:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"netevd: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeFailure as exc:
        print(f"netevd: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except (OSError, RuntimeError) as exc:
        print(f"netevd: {exc}", file=sys.stderr)
        return EXIT_FAILURE
