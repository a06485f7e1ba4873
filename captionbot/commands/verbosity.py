"""How much a command prints besides its results: `-v` (debug messages, the libraries' messages and progress
bars), the default (the project's own messages at the level its command asks; the libraries' warnings), or
`--quiet` (errors only)."""

import argparse
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# Libraries that print on their own (progress bars, INFO lines) unless told otherwise: their warnings only.
CHATTY = ("alembic", "httpx", "urllib3", "huggingface_hub", "transformers")
# Warnings about the libraries themselves, at every import, nothing a user can act on: only with -v.
# (torchao, which transformers imports, on kernels for other hardware it could not load.)
NOTES = ("torchao", "torch.utils._pytree")


@dataclass(frozen=True)
class Verbosity:
    verbose: bool = False
    quiet: bool = False

    @classmethod
    def of(cls, args: argparse.Namespace) -> "Verbosity":
        return cls(verbose=getattr(args, "verbose", False), quiet=getattr(args, "quiet", False))

    @property
    def root_level(self) -> int:
        return logging.DEBUG if self.verbose else logging.ERROR if self.quiet else logging.WARNING

    def own_level(self, command_level: int) -> int:
        """The `captionbot` loggers' level: the command's (INFO for a service, WARNING for a tool that says
        itself what it did) unless `-v` or `--quiet` says otherwise."""
        return logging.DEBUG if self.verbose else logging.ERROR if self.quiet else command_level

    def progress(self, stream=sys.stderr) -> bool:
        """Whether a progress bar belongs on `stream`: a terminal, and not `--quiet`."""
        return not self.quiet and stream.isatty()

    def flags(self) -> list[str]:
        """The same verbosity for a `captionbot` subprocess."""
        return ["-v"] if self.verbose else ["--quiet"] if self.quiet else []

    @contextmanager
    def logging_levels(self, command_level: int) -> Iterator[None]:
        """Set the levels for a command, and put back the ones it found (`main` may run more than once)."""
        levels = {
            "": self.root_level,
            "captionbot": self.own_level(command_level),
            **dict.fromkeys(CHATTY, self.root_level),
            **dict.fromkeys(NOTES, logging.DEBUG if self.verbose else logging.ERROR),
        }
        loggers = [logging.getLogger(name or None) for name in levels]
        before = [logger.level for logger in loggers]
        for logger, level in zip(loggers, levels.values()):
            logger.setLevel(level)
        try:
            yield
        finally:
            for logger, level in zip(loggers, before):
                logger.setLevel(level)


def quiet_libraries(verbosity: Verbosity) -> None:
    """Hugging Face's progress bars and advisory lines only with `-v`: through the environment for the
    libraries not imported yet (and the subprocesses a command starts), through their switches for those
    already imported."""
    if verbosity.verbose:
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
