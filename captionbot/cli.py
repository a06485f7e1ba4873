"""`captionbot`: one entry point for every process and tool (docs/architecture.md).

Each command family lives in its own module exposing `add_commands(subparsers)`; a command's handler is
stored as `func` and imports what it needs when it runs, so `captionbot discord --help` loads no torch.
"""

import argparse
import logging
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "captionbot.commands.caption",
    "captionbot.commands.serve",
    "captionbot.commands.models",
    "captionbot.commands.demo",
    "captionbot.training.cli",
    "captionbot.commands.feedback",
    "captionbot.commands.api",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="captionbot", description="Image captions for Discord and Slack, served by BLIP workers."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from captionbot.core.errors import UsageError

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except UsageError as err:
        parser.exit(2, f"captionbot {args.command}: error: {err}\n")
    except KeyboardInterrupt:
        return 130
