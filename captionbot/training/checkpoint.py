"""Checkpoint folders: a `save_pretrained` model with its processor, training config and metrics, written
under a temporary name and renamed into place, so a reader (or a resumed run) never sees half of one.

    OUTPUT/checkpoint-epoch-0004/   model + processor + training_config.json + metrics.json + trainer_state.pt
    OUTPUT/best/                    the same without trainer_state.pt: the one to publish

trainer_state.pt holds what `--resume` needs beyond the weights: optimizer, scheduler, loss scaler, the
step and epoch counters and the random number generators; it loads with `torch.load(weights_only=True)`.
"""

import json
import os
import random
import re
import shutil
import tempfile
from pathlib import Path

import torch

from captionbot.core.registry import METRICS_FILE, TRAINING_CONFIG_FILE

TRAINER_STATE = "trainer_state.pt"
BEST = "best"
EPOCH_FOLDER = re.compile(r"^checkpoint-epoch-(\d+)$")


def epoch_folder(output: Path, epoch: int) -> Path:
    return output / f"checkpoint-epoch-{epoch:04d}"


def write_model_folder(target: Path, model, processor, training_config: dict, metrics: dict,
                       trainer_state: dict | None = None) -> Path:
    """Write everything beside `target`, then swap it in: the old folder stays whole until the rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        (staging / TRAINING_CONFIG_FILE).write_text(json.dumps(training_config, indent=2) + "\n", encoding="utf-8")
        (staging / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        if trainer_state is not None:
            torch.save(trainer_state, staging / TRAINER_STATE)
        swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def swap_in(staging: Path, target: Path) -> None:
    """Rename a finished folder over `target`."""
    # os.replace cannot replace a non-empty folder: move the old one aside first, drop it after.
    retired = None
    if target.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        os.replace(target, retired / target.name)
    os.replace(staging, target)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def epoch_checkpoints(output: Path) -> list[tuple[int, Path]]:
    """(epoch, folder) of the resumable checkpoints in a run folder, oldest first."""
    if not output.is_dir():
        return []
    found = [(int(match.group(1)), path) for path in output.iterdir()
             if (match := EPOCH_FOLDER.match(path.name)) and (path / TRAINER_STATE).is_file()]
    return sorted(found)


def prune_checkpoints(output: Path, keep: int) -> None:
    for _, path in epoch_checkpoints(output)[:-keep] if keep > 0 else []:
        shutil.rmtree(path, ignore_errors=True)


def rng_state() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
    }


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])


def load_trainer_state(folder: Path) -> dict:
    path = folder / TRAINER_STATE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {TRAINER_STATE}; --resume needs a checkpoint-epoch-N folder.")
    return torch.load(path, map_location="cpu", weights_only=True)
