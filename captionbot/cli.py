"""`captionbot`: one entry point for every process and tool (docs/architecture.md).

Each command family lives in its own module exposing `add_commands(subparsers)`; a command's handler is
stored as `func` and imports what it needs when it runs, so `captionbot discord --help` loads no torch.
Every command and subcommand, including those added later, is made by `CommandParser`: each takes `-v` and
`--quiet` and shows its help line as its description.
"""

import argparse
import logging
import sys
from collections.abc import Sequence

from captionbot.commands.verbosity import Verbosity, quiet_libraries

COMMAND_MODULES = (
    "captionbot.commands.caption",
    "captionbot.commands.serve",
    "captionbot.commands.models",
    "captionbot.commands.demo",
    "captionbot.training.cli",
    "captionbot.commands.feedback",
    "captionbot.commands.api",
)


class CommandSubParsers(argparse._SubParsersAction):
    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        kwargs.setdefault("description", kwargs.get("help"))
        return super().add_parser(name, **kwargs)


class CommandParser(argparse.ArgumentParser):
    """A parser whose subcommands are `CommandParser`s too (argparse makes them of the parent's class)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", CommandSubParsers)
        # SUPPRESS: a subcommand's parser leaves unset what `captionbot -v COMMAND` set before it.
        loudness = self.add_mutually_exclusive_group()
        loudness.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                              help="also print debug messages and the libraries' messages and progress bars")
        loudness.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                              help="print only results and errors")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = CommandParser(
        prog="captionbot", description="Image captions for Discord and Slack, served by BLIP workers."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(subparsers)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("captionbot")
    except PackageNotFoundError:
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    from captionbot.core.errors import UsageError

    parser = build_parser()
    args = parser.parse_args(argv)
    verbosity = Verbosity.of(args)
    args.verbosity = verbosity
    quiet_libraries(verbosity)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    with verbosity.logging_levels(getattr(args, "log_level", logging.INFO)):
        try:
            return int(args.func(args) or 0)
        except UsageError as err:
            parser.exit(2, f"captionbot {args.command}: error: {err}\n")
        except KeyboardInterrupt:
            return 130
