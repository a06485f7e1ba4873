"""`captionbot publish RUN_DIR/best`: copy a trained model into the registry as a new version.

The registry (`captionbot.core.registry`) copies it in under a temporary name and renames it into place;
`--activate` then points CURRENT at it and, when RELOAD_ON_PUBLISH is set, asks the workers to reload.
Resumable state (trainer_state.pt) stays behind: a version holds what serving needs, its metrics and the
training config that made it.
"""

import argparse
import json
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from captionbot.core.decoding import DecodingError, recorded_decoding
from captionbot.core.registry import METRICS_FILE, TRAINING_CONFIG_FILE, Registry, validate_version
from captionbot.core.settings import get_settings
from captionbot.training.checkpoint import BEST, TRAINER_STATE
from captionbot.training.options import add_publish_arguments

REQUIRED = ("config.json", "processor_config.json", METRICS_FILE, TRAINING_CONFIG_FILE)
WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
TOKENIZER = ("tokenizer.json", "vocab.txt")
RELOAD_TIMEOUT_S = 120.0


class PublishError(Exception):
    """The folder cannot be published; the message says why and what to pass instead."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="captionbot publish", description=__doc__.splitlines()[0])
    add_publish_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


def command(args: argparse.Namespace) -> int:
    return run(args)


def check_model_folder(source: Path) -> None:
    if not source.is_dir():
        raise PublishError(f"{source} is not a folder; pass a run's best/ (or a checkpoint-epoch-N) folder.")
    if (source / BEST / "config.json").is_file():
        raise PublishError(f"{source} is a run folder; publish the model in it: captionbot publish {source / BEST}")
    missing = [name for name in REQUIRED if not (source / name).is_file()]
    if not any((source / name).is_file() for name in WEIGHTS):
        missing.append("model.safetensors")
    if not any((source / name).is_file() for name in TOKENIZER):
        missing.append("tokenizer.json")
    if missing:
        raise PublishError(f"{source} lacks {', '.join(missing)}; publish a folder written by `captionbot train` "
                           f"(its best/ or a checkpoint-epoch-N).")
    try:
        recorded_decoding(source)
    except DecodingError as err:
        raise PublishError(f"{source}: {err}; workers could not decode it as it was trained.") from err


def default_version(source: Path) -> str:
    """<run folder>-<time>: `runs/flickr8k/best` published at 14:03 becomes `flickr8k-20261129-1403`."""
    run_name = (source.parent if source.name == "best" or source.name.startswith("checkpoint-") else source).name
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in run_name).strip("-._") or "model"
    return f"{safe[:40]}-{datetime.now():%Y%m%d-%H%M%S}"


def publish(source: Path, model_dir: Path, version: str | None = None, activate: bool = False) -> Path:
    """Add `source` to the registry as `version` (atomically) and, with `activate`, make it CURRENT."""
    source = Path(source)
    check_model_folder(source)
    version = validate_version(version or default_version(source))
    registry = Registry(model_dir)
    if (source / TRAINER_STATE).exists():
        with tempfile.TemporaryDirectory(prefix=".publish.") as staging:
            served = Path(staging) / version
            shutil.copytree(source, served, ignore=shutil.ignore_patterns(TRAINER_STATE))
            target = registry.add_version(served, version)
    else:
        target = registry.add_version(source, version)
    if activate:
        registry.set_current(version)
    return target


def reload_workers_now(version: str) -> int:
    """Ask every worker to load `version`; print each reply. 0 when all took it."""
    from captionbot.core.celery_config import make_celery
    from captionbot.core.control import reload_workers

    try:
        replies = reload_workers(make_celery(get_settings()), version, timeout=RELOAD_TIMEOUT_S)
    except Exception as err:  # the broker down, or any transport failure: the publish itself stands
        print(f"Could not reach the workers ({err}); they load {version} when they start, "
              f"or run `captionbot reload {version}`.")
        return 1
    if not replies:
        print(f"No worker answered; workers load {version} when they start.")
    for reply in replies:
        detail = f"now serves {reply.version}" if reply.status == "ok" else f"{reply.status}: {reply.reason}"
        print(f"  {reply.worker}: {detail}")
    return 0 if all(reply.status in ("ok", "unchanged") for reply in replies) else 1


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    model_dir = args.model_dir or settings.model_dir
    target = publish(args.source, model_dir, args.version, args.activate)
    metrics = json.loads((target / METRICS_FILE).read_text(encoding="utf-8"))
    summary = ", ".join(f"{key} {metrics[key]:.4f}" for key in ("BLEU-4", "CIDEr") if key in metrics)
    prompt = recorded_decoding(target).decoding.prompt
    print(f"Published {target.name} to {target}" + (f" ({metrics.get('split', 'val')} {summary})" if summary else "")
          + f"; it decodes from the prompt {prompt!r}")
    if not args.activate:
        return 0
    print(f"{target.name} is now CURRENT.")
    if settings.reload_on_publish:
        return reload_workers_now(target.name)
    return 0
