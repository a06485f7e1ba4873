"""`captionbot publish RUN_DIR/best`: copy a trained model into the registry as a new version.

The registry (`captionbot.core.registry`, a folder or s3://) takes every file and then the manifest, so a
version exists only once it is whole. `--activate` first checks the model exactly as a worker does at a reload
(`blip/fitness.py`, the check `captionbot check-model` runs) and applies the quality gate
against the live version (unless `--force`); a refusal publishes nothing. `--test-scores FILE` records the test
split's scores (`captionbot evaluate --split test --json`) in the version's metrics.json, for the gate. It then points CURRENT at the new
version and, when RELOAD_ON_PUBLISH is set, asks the workers to reload. Resumable state (trainer_state.pt) stays
behind: a version holds what serving needs, its metrics and the training config that made it.
"""

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from captionbot.blip.fitness import UNFIT, load_checked
from captionbot.blip.loading import ModelSource
from captionbot.blip.recipe import DecodingError, recorded_decoding
from captionbot.core.registry import (
    METRICS_FILE,
    TRAINING_CONFIG_FILE,
    Registry,
    RegistryError,
    WeightsNotSafetensors,
    gate_refusal,
    read_json,
    require_safetensors,
    validate_new_version,
)
from captionbot.core.settings import get_settings
from captionbot.training.checkpoint import BEST, TRAINER_STATE
from captionbot.training.options import add_publish_arguments

REQUIRED = ("config.json", "processor_config.json", METRICS_FILE, TRAINING_CONFIG_FILE)
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
    try:
        require_safetensors(source)
    except WeightsNotSafetensors as err:
        raise PublishError(f"{source}: {err.message}") from err
    missing = [name for name in REQUIRED if not (source / name).is_file()]
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


def publish(source: Path, model_dir: str | Path, version: str | None = None, activate: bool = False,
            force: bool = False, margin: float = 0.0, test_scores: Path | None = None) -> str:
    """Add `source` to the registry as `version` (with `test_scores` recorded in its metrics) and, with
    `activate`, make it CURRENT once it passed the worker's check and (unless `force`) the quality gate.
    Returns the version's name."""
    source = Path(source)
    check_model_folder(source)
    version = validate_new_version(version or default_version(source))
    registry = Registry(model_dir)
    with tempfile.TemporaryDirectory(prefix=".publish.") as staging:
        if test_scores is not None:
            source = with_test_scores(source, Path(staging) / version, test_scores)
        if activate:
            check_activation(registry, source, version, force, margin)
        registry.add_version(source, version, exclude=(TRAINER_STATE,))
    if activate:
        registry.set_current(version)
    return version


def with_test_scores(source: Path, staging: Path, scores_file: Path) -> Path:
    """A copy of `source` (hard links where the file system allows) whose metrics.json also records the test
    split's scores under "test"; the run folder itself is left as it was."""
    try:
        scores = json.loads(scores_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise PublishError(f"{scores_file} is not the JSON `captionbot evaluate --json` prints ({err}).") from err
    if not isinstance(scores, dict) or not isinstance(scores.get("CIDEr"), int | float):
        raise PublishError(f"{scores_file} has no CIDEr; pass what `captionbot evaluate --split test --json` prints.")
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns(TRAINER_STATE), copy_function=_link_or_copy)
    metrics = read_json(source / METRICS_FILE)
    (staging / METRICS_FILE).unlink()
    (staging / METRICS_FILE).write_text(json.dumps({**metrics, "test": scores}, indent=2) + "\n", encoding="utf-8")
    return staging


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def check_activation(registry: Registry, source: Path, version: str, force: bool, margin: float) -> None:
    """`PublishError` when a worker would refuse the model, or the gate holds it back against CURRENT."""
    live = registry.current()
    reason = None if force else gate_refusal(version, read_json(source / METRICS_FILE), live,
                                             registry.metrics(live) if live else {}, margin)
    if reason:
        raise PublishError(f"Nothing published: {reason}.")
    settings = get_settings()
    try:
        checked = load_checked(ModelSource(str(source), version, settings.caption_prompt), settings.device)
    except UNFIT as err:
        raise PublishError(f"Nothing published: the workers would refuse {source} ({err}).") from err
    del checked  # its memory goes before the copy into the registry


def reload_workers_now(version: str, force: bool = False) -> int:
    """Ask every worker to load `version` (past the gate with `force`); print each reply. 0 when all took it."""
    from captionbot.core.celery_config import make_celery
    from captionbot.core.control import reload_workers

    try:
        replies = reload_workers(make_celery(get_settings()), version, timeout=RELOAD_TIMEOUT_S, force=force)
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
    try:
        version = publish(args.source, model_dir, args.version, args.activate, args.force,
                          settings.quality_gate_margin, args.test_scores)
    except RegistryError as err:
        raise PublishError(f"{err.message}; nothing was made live.") from err
    metrics = read_json(Path(args.source) / METRICS_FILE)
    summary = ", ".join(f"{key} {metrics[key]:.4f}" for key in ("BLEU-4", "CIDEr") if key in metrics)
    prompt = recorded_decoding(Path(args.source)).decoding.prompt
    print(f"Published {version} to {model_dir}" + (f" ({metrics.get('split', 'val')} {summary})" if summary else "")
          + f"; it decodes from the prompt {prompt!r}")
    if not args.activate:
        return 0
    print(f"{version} is now CURRENT.")
    if settings.reload_on_publish:
        return reload_workers_now(version, args.force)
    return 0
