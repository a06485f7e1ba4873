"""Training through `main(argv)` on the CPU: files, checkpoints that load, exact resume, flag checks."""

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import BlipForConditionalGeneration, BlipProcessor

from captionbot.core.errors import UsageError
from captionbot.training.checkpoint import TRAINER_STATE
from captionbot.training.history import read_history
from captionbot.training.train import main, parse_args


def epochs_of(run: Path) -> list[dict]:
    return [r for r in read_history(run / "metrics.jsonl") if r["kind"] == "epoch"]


def test_a_run_writes_checkpoints_best_and_history(tiny_run: Path) -> None:
    for name in ("best", "checkpoint-epoch-0001", "checkpoint-epoch-0002", "checkpoint-epoch-0003"):
        folder = tiny_run / name
        for file_name in ("config.json", "model.safetensors", "processor_config.json", "tokenizer.json",
                          "training_config.json", "metrics.json"):
            assert (folder / file_name).is_file(), f"{name}/{file_name}"
    assert not (tiny_run / "best" / TRAINER_STATE).exists()
    assert not list(tiny_run.glob(".*")), "no staging folder left behind"
    history = read_history(tiny_run / "metrics.jsonl")
    assert [r["epoch"] for r in history if r["kind"] == "epoch"] == [1, 2, 3]
    assert [r["epoch"] for r in history if r["kind"] == "eval"] == [1, 2, 3]
    assert all(r["images_per_s"] > 0 and r["lr"] > 0 for r in history if r["kind"] == "train")
    epochs = epochs_of(tiny_run)
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    best = json.loads((tiny_run / "best" / "metrics.json").read_text())
    assert best["CIDEr"] == max(r["CIDEr"] for r in history if r["kind"] == "eval")


def test_training_config_records_the_recipe(tiny_run: Path) -> None:
    config = json.loads((tiny_run / "best" / "training_config.json").read_text())
    assert config["base"] == "random:tiny" and config["data_format"] == "original"
    assert config["recipe"]["lr"] == 2e-3 and config["recipe"]["label_smoothing"] == 0.1
    assert config["recipe"]["weight_decay"] == 0.05 and config["recipe"]["max_tokens"] == 32
    assert config["splits"]["train"] == {"images": 36, "captions": 180}


def test_best_loads_with_from_pretrained_and_captions(tiny_run: Path) -> None:
    model = BlipForConditionalGeneration.from_pretrained(tiny_run / "best")
    processor = BlipProcessor.from_pretrained(tiny_run / "best")
    assert model.config.text_config.label_smoothing == 0.1
    pixel_values = processor(images=torch.zeros(3, 50, 70, dtype=torch.uint8), return_tensors="pt").pixel_values
    ids = model.generate(pixel_values=pixel_values, max_new_tokens=8)
    assert ids[0, 0] == model.config.text_config.bos_token_id
    assert isinstance(processor.decode(ids[0], skip_special_tokens=True), str)


def test_resume_reaches_the_same_step_and_loss(tiny_run: Path, tmp_path: Path) -> None:
    resumed = tmp_path / "resumed"
    shutil.copytree(tiny_run, resumed)
    shutil.rmtree(resumed / "checkpoint-epoch-0003")
    shutil.rmtree(resumed / "checkpoint-epoch-0002")
    assert main(["--output", str(resumed), "--resume"]) == 0  # from checkpoint 1, with the run's own recipe
    original, again = epochs_of(tiny_run), epochs_of(resumed)
    assert [r["step"] for r in again] == [r["step"] for r in original]
    for key in ("train_loss", "val_loss"):
        assert [r[key] for r in again] == pytest.approx([r[key] for r in original], rel=1e-6)
    weights = load_file(tiny_run / "checkpoint-epoch-0003" / "model.safetensors")
    resumed_weights = load_file(resumed / "checkpoint-epoch-0003" / "model.safetensors")
    assert all(torch.allclose(weights[k], resumed_weights[k], atol=1e-6) for k in weights)


def test_resume_with_more_epochs_extends_the_run_and_says_how_the_schedule_continues(
        tiny_run: Path, tmp_path: Path, caplog) -> None:
    extended = tmp_path / "extended"
    shutil.copytree(tiny_run, extended)
    with caplog.at_level(logging.INFO, logger="captionbot.training.train"):
        assert main(["--output", str(extended), "--resume", "--epochs", "4"]) == 0
    epochs = epochs_of(extended)
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4]
    steps_per_epoch = epochs[0]["step"]
    assert epochs[-1]["step"] == 4 * steps_per_epoch
    # The cosine schedule is stretched to the new end: the finished run had decayed to zero, the extension
    # goes on at a rate above zero, which then decays to zero at the new last step.
    assert f"the schedule runs to step {4 * steps_per_epoch} (epoch 4)" in caplog.text
    rates = [r["lr"] for r in read_history(extended / "metrics.jsonl") if r["kind"] == "train" and r["epoch"] == 4]
    assert rates and rates[0] > 0 and rates == sorted(rates, reverse=True)
    assert json.loads((extended / "training_config.json").read_text())["epochs"] == 4
    with pytest.raises(UsageError, match="already trained 4 epochs"):
        main(["--output", str(extended), "--resume", "--epochs", "2"])


def test_max_steps_ends_the_run_where_the_schedule_ends(shapes_data: Path, tmp_path: Path) -> None:
    output = tmp_path / "run"
    flags = ["--data", str(shapes_data), "--output", str(output), "--base", "random:tiny", "--epochs", "5",
             "--batch-size", "16", "--max-steps", "14", "--log-every", "1", "--no-augment"]
    assert main(flags) == 0
    epochs = epochs_of(output)
    assert [(r["epoch"], r["step"]) for r in epochs] == [(1, 12), (2, 14)]  # 180 pairs / 16: 12 steps an epoch
    assert (output / "best" / "config.json").is_file() and (output / "checkpoint-epoch-0002").is_dir()
    rates = [r["lr"] for r in read_history(output / "metrics.jsonl") if r["kind"] == "train"]
    assert len(rates) == 14 and rates[-1] < rates[1] * 0.05
    # Resumed without the flags, the run keeps its own --max-steps and --log-every: the same end, the same rates.
    resumed = tmp_path / "resumed"
    shutil.copytree(output, resumed)
    shutil.rmtree(resumed / "checkpoint-epoch-0002")
    assert main(["--output", str(resumed), "--resume"]) == 0
    assert [(r["epoch"], r["step"]) for r in epochs_of(resumed)] == [(1, 12), (2, 14)]
    again = [r["lr"] for r in read_history(resumed / "metrics.jsonl") if r["kind"] == "train"]
    assert again == pytest.approx(rates, rel=1e-6)


def test_resume_refuses_a_changed_recipe(tiny_run: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--output", str(tiny_run), "--resume", "--lr", "0.1"])
    assert exit_info.value.code == 2
    assert "--lr 0.1 differs from the resumed run's 0.002" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "message"), [
    (["--precision", "fp16", "--device", "cpu"], "--precision fp16 needs a CUDA GPU"),
    (["--epochs", "0"], "--epochs must be 1 or more"),
    (["--label-smoothing", "1"], "--label-smoothing"),
])
def test_bad_flags_name_the_flag(shapes_data: Path, tmp_path: Path, capsys, flags: list[str], message: str) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--data", str(shapes_data), "--output", str(tmp_path), *flags])
    assert message in capsys.readouterr().err


def test_grad_accum_frozen_vision_and_early_stop(shapes_data: Path, tmp_path: Path) -> None:
    output = tmp_path / "run"
    flags = ["--data", str(shapes_data), "--output", str(output), "--base", "random:tiny", "--epochs", "5",
             "--batch-size", "8", "--grad-accum", "3", "--lr", "1e-9", "--freeze-vision", "--early-stop", "1",
             "--no-augment", "--max-tokens", "12"]
    assert main(flags) == 0
    epochs = epochs_of(output)
    assert [r["epoch"] for r in epochs] == [1, 2]  # the second evaluation was no better: stop
    assert epochs[0]["step"] == 8  # 180 pairs / 8 = 23 micro-batches -> 8 optimizer steps
    start = load_file(output / "random-init" / "model.safetensors")
    trained = load_file(output / "checkpoint-epoch-0002" / "model.safetensors")
    vision = [k for k in start if k.startswith("vision_model.")]
    assert vision and all(torch.equal(start[k], trained[k]) for k in vision)
