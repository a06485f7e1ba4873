"""Training under torchrun: two gloo processes on the CPU, each with half the batch, train the weights one process
with the whole batch trains; rank 0 alone writes the run; --resume continues it under torchrun."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from captionbot.training.dataset import EpochSampler
from captionbot.training.history import read_history
from captionbot.training.train import main

REPO = Path(__file__).resolve().parents[2]
# 180 training pairs: 6 optimizer steps an epoch of 2 micro-batches of 16 pairs (the last step's one of 4), with
# augmentation, so the sharding, the accumulation and the last short batch are all exercised.
FLAGS = ["--base", "random:tiny", "--epochs", "2", "--grad-accum", "2", "--lr", "2e-3", "--log-every", "2",
         "--keep-checkpoints", "2"]
BATCH = 16
# Float32 sums in another order (two halves all-reduced instead of one batch) differ by ~1e-7; Adam divides each
# update by the gradient's running scale, so these 12 steps at lr 2e-3 leave 6e-7 between the runs (measured;
# 2e-6 without accumulation). The tolerance is 10x that or more, and the weights move 1.3e-2 (650x) from their
# random start, which the test checks is over 100x.
ATOL = 2e-5


def torchrun(*args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    """`torchrun --standalone` (a free port, so runs beside each other do not meet) of `captionbot train`."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
               "-m", "captionbot", "train", *args]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def largest_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[key] - b[key]).abs().max()) for key in a)


@pytest.fixture(scope="module")
def runs(shapes_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One process with the batch of 16, and two processes with 8 each (reporting to TensorBoard), from the same
    random base."""
    root = tmp_path_factory.mktemp("distributed")
    single = root / "single"
    assert main(["--data", str(shapes_data), "--output", str(single), "--batch-size", str(BATCH), *FLAGS]) == 0
    torchrun("--data", str(shapes_data), "--output", str(root / "runs" / "pair"), "--batch-size", str(BATCH // 2),
             "--report-to", "tensorboard", *FLAGS)
    return single, root / "runs" / "pair"


def test_two_processes_with_half_the_batch_train_the_weights_of_one(runs: tuple[Path, Path]) -> None:
    single, pair = runs
    start = weights(single / "random-init")
    assert largest_difference(weights(pair / "random-init"), start) == 0
    trained = weights(single / "checkpoint-epoch-0002")
    assert largest_difference(trained, start) > 100 * ATOL
    assert largest_difference(weights(pair / "checkpoint-epoch-0002"), trained) < ATOL


def test_validation_and_scores_are_gathered_from_both_ranks(runs: tuple[Path, Path]) -> None:
    single, pair = runs
    one, two = read_history(single / "metrics.jsonl"), read_history(pair / "metrics.jsonl")
    assert [(r["kind"], r["epoch"], r["step"]) for r in two] == [(r["kind"], r["epoch"], r["step"]) for r in one]
    for a, b in zip(one, two):
        for key in ("loss", "lr", "train_loss", "val_loss", "BLEU-4", "ROUGE-L", "CIDEr"):
            if key in a:
                assert b[key] == pytest.approx(a[key], rel=1e-4), (a["kind"], key)


def test_rank_zero_alone_writes_one_run_folder_and_reports(runs: tuple[Path, Path]) -> None:
    _, pair = runs
    assert [path.name for path in pair.parent.iterdir()] == ["pair"]
    assert sorted(path.name for path in pair.iterdir()) == [
        "best", "checkpoint-epoch-0001", "checkpoint-epoch-0002", "metrics.jsonl", "random-init", "tensorboard",
        "training_config.json"]
    assert len(list((pair / "tensorboard").iterdir())) == 1, "one tracker, on rank 0"
    assert [r["epoch"] for r in read_history(pair / "metrics.jsonl") if r["kind"] == "epoch"] == [1, 2]
    config = json.loads((pair / "training_config.json").read_text())
    assert config["world_size"] == 2 and config["recipe"]["batch_size"] == BATCH // 2


def test_resume_under_torchrun_reaches_the_same_weights(runs: tuple[Path, Path], tmp_path: Path) -> None:
    _, pair = runs
    resumed = tmp_path / "resumed"
    shutil.copytree(pair, resumed)
    shutil.rmtree(resumed / "checkpoint-epoch-0002")
    torchrun("--output", str(resumed), "--resume", "--log-every", "2")
    assert largest_difference(weights(resumed / "checkpoint-epoch-0002"), weights(pair / "checkpoint-epoch-0002")) < 1e-6
    original, again = read_history(pair / "metrics.jsonl"), read_history(resumed / "metrics.jsonl")
    assert [(r["kind"], r["epoch"], r["step"]) for r in again] == [(r["kind"], r["epoch"], r["step"]) for r in original]
    assert [r["val_loss"] for r in again if r["kind"] == "epoch"] == pytest.approx(
        [r["val_loss"] for r in original if r["kind"] == "epoch"], rel=1e-6)


@pytest.mark.parametrize("size,replicas", [(180, 2), (7, 2), (10, 4), (1, 3)])
def test_ranks_share_every_batch_of_one_process(size: int, replicas: int) -> None:
    whole = list(EpochSampler(size, 3, seed=5))
    shards = [list(EpochSampler(size, 3, seed=5, rank=rank, replicas=replicas)) for rank in range(replicas)]
    assert len({len(shard) for shard in shards}) == 1, "every rank takes as many steps"
    per_rank = 4
    for start in range(0, len(shards[0]), per_rank):
        together = {key for shard in shards for key in shard[start:start + per_rank]}
        assert together <= set(whole)
        assert set(whole[start * replicas:(start + per_rank) * replicas]) <= together
    counted = [list(EpochSampler(size, 0, seed=5, shuffle=False, rank=rank, replicas=replicas, even=False))
               for rank in range(replicas)]
    assert sorted(key for shard in counted for key in shard) == [(0, index) for index in range(size)]
