"""Command line entry point: parses arguments and maps errors to exit codes (0 ok, 1 runtime
failure, 2 usage or configuration error). Nothing below this module calls sys.exit."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence

from netevd import __version__
from netevd.config import ConfigError, load_config, render_config
from netevd.errors import RuntimeFailure, UsageError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netevd", description="Network event daemon")
    parser.add_argument(
        "-c", "--config", help="configuration file (default /etc/netevd/netevd.yaml)"
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the daemon in the foreground (the default)")
    run.add_argument("-c", "--config", dest="sub_config", help="configuration file")
    validate = sub.add_parser("validate", help="check the configuration and print it")
    validate.add_argument("-c", "--config", dest="sub_config", help="configuration file")
    validate.add_argument("--strict", action="store_true", help="unknown keys are errors")
    sub.add_parser("version", help="print the version")
    test = sub.add_parser("test", help="run one script with the environment a real event gives")
    test.add_argument("script", help="path of the script to run")
    test.add_argument("-i", "--interface", required=True, help="interface name")
    test.add_argument("-s", "--state", required=True, help="state directory, e.g. routable")
    test.add_argument("--event", help="EVENT value (default: link, or new for routes)")
    test.add_argument("-c", "--config", dest="sub_config", help="configuration file")
    return parser


def _config_path(args: argparse.Namespace) -> str | None:
    sub_config: str | None = getattr(args, "sub_config", None)
    return sub_config or args.config


def cmd_validate(args: argparse.Namespace, env: Mapping[str, str]) -> int:
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
    from netevd.testrun import run_test

    loaded = load_config(_config_path(args), env)
    return asyncio.run(
        run_test(args.script, args.interface, args.state, args.event, loaded.config, env)
    )


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ) if env is None else env
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    try:
        if command == "version":
            print(f"netevd {__version__}")
            return EXIT_OK
        if command == "validate":
            return cmd_validate(args, env)
        if command == "test":
            return cmd_test(args, env)
        from netevd.app import run

        return run(_config_path(args), env)
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
