"""The flags of `captionbot tune`: every `captionbot train` flag, the searched ones taking a range or a list,
and the search's own. Imports nothing heavy: `captionbot --help` must not load torch or Optuna.

    --lr 1e-6:1e-4        searched, log-uniform        --lr 3e-5          fixed, not searched
    --batch-size 16,32    searched among the listed    --batch-size 32    fixed
"""

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from captionbot.core.errors import UsageError
from captionbot.training import options


@dataclass(frozen=True)
class Span:
    """A float searched from `low` to `high` (log-uniform where `log`), or fixed where they are equal."""

    low: float
    high: float
    log: bool = False

    @property
    def fixed(self) -> bool:
        return self.low == self.high


# Ranges that make sense for fine-tuning BLIP: its authors used 1e-5 (COCO captions), this project's recipe
# 5e-5, weight decay 0.05, label smoothing 0.1, 5% warm-up.
SEARCH = {
    "lr": Span(1e-6, 1e-4, log=True),
    "warmup": Span(0.0, 0.1),
    "weight_decay": Span(0.0, 0.1),
    "label_smoothing": Span(0.0, 0.2),
    "batch_size": (16, 32, 64),
}
PRUNERS = ("median", "none")
DEFAULT_STORAGE = "study.db"


def span(flag: str, log: bool = False, low: float = 0.0, below: float | None = None):
    """An argparse type: `LO:HI` or one value, checked against the flag's limits."""

    def parse(text: str) -> Span:
        try:
            bounds = [float(part) for part in text.split(":")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: give a number or a range LO:HI, e.g. 1e-6:1e-4") from None
        if len(bounds) not in (1, 2) or not all(map(math.isfinite, bounds)) or bounds[0] > bounds[-1]:
            raise argparse.ArgumentTypeError(f"{text!r}: give a number or a range LO:HI with LO <= HI")
        if bounds[0] < low or (log and bounds[0] <= 0) or (below is not None and bounds[-1] >= below):
            upper = f" up to (not including) {below:g}" if below is not None else ""
            limits = f"above {low:g}" if log else f"from {low:g}{upper}"
            raise argparse.ArgumentTypeError(f"{text!r}: {flag} must be {limits}")
        return Span(bounds[0], bounds[-1], log=log and bounds[0] < bounds[-1])

    return parse


def batch_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a size or a comma list, e.g. 16,32,64") from None
    if min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: batch sizes must be 1 or more")
    return tuple(dict.fromkeys(sizes))


def add_tune_arguments(parser: argparse.ArgumentParser) -> None:
    """Every `captionbot train` flag, with the searched ones replaced: the parser must be made with
    `conflict_handler="resolve"`."""
    options.add_train_arguments(parser)
    parser.add_argument("--output", type=Path, required=True,
                        help="study folder: trial-NNN/ (each trial's run), best.json, study.db")
    parser.add_argument("--resume", nargs="?", const="latest", help=argparse.SUPPRESS)  # refused: trials start afresh
    parser.add_argument("--trials", type=int, required=True, metavar="N",
                        help="trials in the study in all: run again with the same --output to resume or extend it")
    parser.add_argument("--storage", metavar="URL",
                        help="Optuna storage shared by the trials, e.g. postgresql://host/db (default: sqlite "
                        f"at OUTPUT/{DEFAULT_STORAGE})")
    parser.add_argument("--study-name", help="the study's name in the storage (default: OUTPUT's folder name)")
    parser.add_argument("--timeout", type=float, metavar="S", help="start no trial after S seconds")
    parser.add_argument("--trial-epochs", type=int, metavar="K",
                        help="epochs of each trial (default: --epochs); --epochs is the full training's, in the "
                        "command printed for the best trial")
    parser.add_argument("--pruner", choices=PRUNERS, default="median",
                        help="median: stop a trial whose val CIDEr is below the median of earlier trials' at the "
                        "same epoch, after 3 trials and from the second epoch on (default: median)")
    searched = "searched: LO:HI; fixed: one value"
    parser.add_argument("--lr", type=span("--lr", log=True),
                        help=f"peak learning rate, {searched}, log-uniform (default: 1e-6:1e-4)")
    parser.add_argument("--warmup", type=span("--warmup", below=1),
                        help=f"warm-up as a fraction of the optimizer steps, {searched} (default: 0:0.1; "
                        "--warmup-steps fixes it in steps instead)")
    parser.add_argument("--weight-decay", type=span("--weight-decay"), help=f"AdamW weight decay, {searched} "
                        "(default: 0:0.1)")
    parser.add_argument("--label-smoothing", type=span("--label-smoothing", below=1),
                        help=f"of the decoder loss, {searched} (default: 0:0.2)")
    parser.add_argument("--batch-size", type=batch_sizes,
                        help="pairs per micro-batch, searched among a comma list or fixed (default: 16,32,64)")


def resolve_tune_args(args: argparse.Namespace) -> argparse.Namespace:
    """The search space (the defaults where a flag is left out) and the checks a search needs first."""
    if args.resume:
        raise UsageError("--resume: each trial trains afresh; to resume the search, run the same command again")
    if args.trials < 1:
        raise UsageError("--trials must be 1 or more")
    if args.warmup is not None and args.warmup_steps is not None:
        raise UsageError("--warmup and --warmup-steps: give one (a fraction of the steps, or a number of steps)")
    if args.trial_epochs is not None and args.trial_epochs < 1:
        raise UsageError("--trial-epochs must be 1 or more")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be above 0 seconds")
    for key, default in SEARCH.items():
        if getattr(args, key) is None and not (key == "warmup" and args.warmup_steps is not None):
            setattr(args, key, default)
    return args


def train_argv(args: argparse.Namespace) -> list[str]:
    """The `captionbot train` flags that set every train option to its value in `args`."""
    parser = argparse.ArgumentParser()
    options.add_train_arguments(parser)
    argv = []
    for action in parser._actions:  # argparse keeps no public list of a parser's options
        value = getattr(args, action.dest, None)
        if not action.option_strings or value is None or action.dest == "help":
            continue
        flag = action.option_strings[0]
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(flag if value else "--no-" + flag.removeprefix("--"))
        elif isinstance(value, list | tuple):  # a resolved comma list (--report-to): back to its spelling
            argv += [flag, ",".join(map(str, value)) or "none"]
        else:
            argv += [flag, str(value)]
    return argv
