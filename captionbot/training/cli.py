"""The training commands of `captionbot`: check-data, train, tune, evaluate, report, publish.

Handlers import their module when they run, so `captionbot --help` loads neither torch nor pycocoevalcap.
"""

import argparse
import importlib
import json
import sys
from collections.abc import Callable

from captionbot.training import options, tune_options

SKIPPED_SHOWN = 20


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    commands: list[tuple[str, str, Callable, Callable]] = [
        ("check-data", "read a Flickr8k-layout data set; report its splits and what was skipped",
         options.add_check_data_arguments, check_data),
        ("train", "fine-tune BLIP on a Flickr8k-layout data set", options.add_train_arguments, _runner("train")),
        ("evaluate", "caption a split and score it, or score given captions (BLEU, METEOR, ROUGE-L, CIDEr)",
         options.add_evaluate_arguments, _runner("evaluate")),
        ("report", "Markdown report and plots of a training run, base vs fine-tuned",
         options.add_report_arguments, _runner("report")),
        ("publish", "copy a trained model into the registry; --activate makes it live",
         options.add_publish_arguments, _runner("publish")),
    ]
    for name, help_text, add_arguments, handler in commands:
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        add_arguments(parser)
        parser.set_defaults(func=_reporting_errors(name, handler))
    tune_help = "search learning rate, warm-up, weight decay, label smoothing and batch size with Optuna trials"
    tune = subparsers.add_parser("tune", help=tune_help, description=tune_help, conflict_handler="resolve")
    tune_options.add_tune_arguments(tune)
    tune.set_defaults(func=_reporting_errors("tune", _runner("tune")))


def _runner(module_name: str) -> Callable[[argparse.Namespace], int]:
    """Import the command's module when it runs; its `command(args)` checks the flags, then runs."""

    def handler(args: argparse.Namespace) -> int:
        module = importlib.import_module(f"captionbot.training.{module_name}")
        _quiet_hub_progress()
        return module.command(args)

    return handler


def _quiet_hub_progress() -> None:
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # per-shard bars on every save and load drown ours


def _reporting_errors(command: str, handler: Callable[[argparse.Namespace], int]) -> Callable:
    """Errors about the user's files or folders: one sentence on stderr, exit status 1."""

    def run(args: argparse.Namespace) -> int:
        from captionbot.core.errors import CaptionError
        from captionbot.training.data import DataError

        user_errors: tuple[type[Exception], ...] = (DataError, CaptionError, FileNotFoundError)
        if command == "publish":
            from captionbot.training.publish import PublishError

            user_errors += (PublishError,)
        try:
            return handler(args)
        except user_errors as err:
            print(f"captionbot {command}: error: {err}", file=sys.stderr)
            return 1

    return run


def check_data(args: argparse.Namespace) -> int:
    from captionbot.training.data import load_data
    from captionbot.training.picture_plan import cache_folder, plan_for, run_splits

    data = load_data(args.data)
    splits = run_splits(data, args.image_size, args.augment)
    chosen = plan_for(args.picture_store, splits.values(), cache_folder(data.root, args.picture_dir))
    if args.json:
        store = {"store": chosen.store, "images": chosen.images, "bytes": chosen.bytes,
                 "folder": str(chosen.folder) if chosen.folder else None, "reason": chosen.reason}
        print(json.dumps({**data.summary(), "picture_store": store}))
        return 0
    print(format_summary(data.summary(), args.data))
    print(f"{chosen.describe()} (train and val at {args.image_size} px)")
    return 0


def format_summary(summary: dict, path: object) -> str:
    lines = [f"{path}: {summary['format']} layout", f"{'split':<6} {'images':>7} {'captions':>9}"]
    for name, counts in summary["splits"].items():
        lines.append(f"{name:<6} {counts['images']:>7} {counts['captions']:>9}")
    skipped = summary["skipped"]
    lines.append(f"skipped {len(skipped)} entries" + (":" if skipped else ""))
    lines += [f"  {s['entry']}: {s['reason']}" for s in skipped[:SKIPPED_SHOWN]]
    if len(skipped) > SKIPPED_SHOWN:
        lines.append(f"  ... and {len(skipped) - SKIPPED_SHOWN} more (--json lists them all)")
    return "\n".join(lines)
