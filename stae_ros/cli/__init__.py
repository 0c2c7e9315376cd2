"""The `stae` command line: one entry point, one module per subcommand.

Each module in ``SUBCOMMANDS`` exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed namespace and returning an exit code. Modules must keep
heavy imports (torch, cv2, rclpy) inside their functions so `stae --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from ..errtext import exc_line

__all__ = ["main", "build_parser", "SUBCOMMANDS"]

#: subcommand modules, in the order `stae --help` lists them
SUBCOMMANDS: tuple[str, ...] = ("demo", "data", "train", "profile", "eval", "bench", "bag")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stae",
        description="STAE semantic video compression for action recognition over weak links.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except KeyboardInterrupt:  # Ctrl-C, also while the subcommands' modules (torch...) are still importing
        return 130


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2) if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)  # no command is a usage error: the help goes where errors go
        return 2
    from stae_ros.runtime import keep_freed_memory

    # batch jobs (train, bench, profile, eval): every freed block stays in the heap, the large
    # blocks of a training step included, so they are not page-faulted in again (stae_ros.runtime)
    keep_freed_memory(heap_only=True)
    try:
        return int(args.func(args) or 0)
    except SystemExit:
        raise
    except Exception as exc:  # a failure no subcommand anticipated: one line, the traceback only with -v
        if args.verbose:
            raise
        print(f"stae {args.command}: error: {exc_line(exc)} (run with -v for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
