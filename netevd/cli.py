"""Command line entry point: parses arguments and maps errors to exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from netevd import __version__

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netevd", description="Network event daemon")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("version", help="print the version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"netevd {__version__}")
        return EXIT_OK
    print("netevd: the daemon is not built yet; try 'netevd version'", file=sys.stderr)
    return EXIT_USAGE
