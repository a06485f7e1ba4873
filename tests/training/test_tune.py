"""`captionbot tune` on the CPU: tiny trials in a SQLite study, the best trial's command, resume, pruning,
failed trials, flag checks."""

import json
import shlex
import shutil
from pathlib import Path

import optuna
import pytest

from captionbot.training import train, tune
from captionbot.training.checkpoint import BEST, epoch_checkpoints
from captionbot.training.history import read_history

FLAGS = ["--base", "random:tiny", "--epochs", "1", "--max-steps", "3", "--lr", "1e-3:5e-3", "--batch-size", "16,32",
         "--log-every", "1"]


def load_study(output: Path) -> optuna.Study:
    return optuna.load_study(study_name=output.name, storage=f"sqlite:///{output / 'study.db'}")


def trial_record(trial: optuna.trial.FrozenTrial) -> tuple:
    return trial.number, trial.state, trial.params, trial.value, trial.datetime_start, trial.datetime_complete


def test_three_trials_the_best_and_its_command_then_a_fourth_resumes(shapes_data: Path, tmp_path: Path,
                                                                   capsys) -> None:
    output = tmp_path / "search"
    argv = ["--data", str(shapes_data), "--output", str(output), *FLAGS]
    assert tune.main([*argv, "--trials", "3"]) == 0
    printed = capsys.readouterr().out

    study = load_study(output)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    best = json.loads((output / "best.json").read_text())
    assert best["trial"] == study.best_trial.number and best["CIDEr"] == study.best_value
    assert best["params"] == study.best_params and set(best["params"]) == set(tune.SEARCH)
    run = Path(best["run"])
    assert run == output / f"trial-{study.best_trial.number:03d}"
    assert json.loads((run / BEST / "metrics.json").read_text())["CIDEr"] == study.best_value
    for trial in study.trials:  # each trial trained with its own values, recorded in its run
        recipe = json.loads((output / f"trial-{trial.number:03d}" / "training_config.json").read_text())["recipe"]
        for key in ("lr", "weight_decay", "label_smoothing", "batch_size"):
            assert recipe[key] == trial.params[key]

    # The printed command trains the best trial's values, every other flag as given, for the full --epochs.
    command_line = next(line.strip() for line in printed.splitlines() if line.strip().startswith("captionbot train"))
    assert command_line == best["command_line"]
    full = train.parse_args(shlex.split(command_line)[2:])
    for key in ("lr", "weight_decay", "label_smoothing", "batch_size"):
        assert getattr(full, key) == best["params"][key]
    assert full.warmup_steps == round(best["params"]["warmup"] * 3)  # --max-steps 3
    assert (full.data, full.base, full.output, full.epochs, full.log_every) == (shapes_data, "random:tiny",
                                                                               output / "full", 1, 1)

    before = [trial_record(t) for t in study.trials]
    assert tune.main([*argv, "--trials", "4"]) == 0
    after = load_study(output).trials
    assert len(after) == 4 and after[3].state == optuna.trial.TrialState.COMPLETE
    assert [trial_record(t) for t in after[:3]] == before
    assert after[3].params != after[0].params, "the resumed sampler draws anew"


def test_a_pruned_trial_stops_after_its_evaluation_and_leaves_a_resumable_run(shapes_data: Path,
                                                                            tmp_path: Path, capsys) -> None:
    output = tmp_path / "pruned"
    args = tune.parse_args(["--data", str(shapes_data), "--output", str(output), "--trials", "2", *FLAGS,
                            "--epochs", "2", "--max-steps", "8", "--batch-size", "32", "--eval-every", "2"])
    # No caption scores 10 CIDEr: every trial is pruned at its first evaluation, after epoch 2.
    assert tune.run(args, pruner=optuna.pruners.ThresholdPruner(lower=10.0)) == 1
    assert "no trial of study 'pruned' completed (2 pruned)" in capsys.readouterr().err
    assert [t.state for t in load_study(output).trials] == [optuna.trial.TrialState.PRUNED] * 2
    assert not (output / "best.json").exists()

    run = output / "trial-000"
    history = read_history(run / "metrics.jsonl")
    assert (history[-1]["kind"], history[-1]["epoch"]) == ("eval", 2)
    assert [epoch for epoch, _ in epoch_checkpoints(run)] == [1]  # the pruned epoch wrote no checkpoint
    assert not (run / BEST).exists() and not list(run.glob(".*")), "no best/ from a pruned evaluation, no staging"
    summary = json.loads((run / "trial.json").read_text())
    assert summary["state"] == "PRUNED" and list(summary["CIDEr_by_epoch"]) == ["2"]
    # The folder is a run like any other: it resumes from its last checkpoint and finishes.
    assert train.main(["--output", str(run), "--resume"]) == 0
    assert [r["epoch"] for r in read_history(run / "metrics.jsonl") if r["kind"] == "eval"] == [2]
    assert (run / BEST / "config.json").is_file()


def test_failed_trials_are_recorded_and_the_study_goes_on(shapes_data: Path, tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    shutil.copytree(shapes_data, data)
    broken = (data / "Flickr_8k.trainImages.txt").read_text().split()[0]
    (data / "Flicker8k_Dataset" / broken).write_text("not a picture")
    output = tmp_path / "failing"
    assert tune.main(["--data", str(data), "--output", str(output), "--trials", "2", *FLAGS]) == 1
    assert "(2 failed)" in capsys.readouterr().err
    trials = load_study(output).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL] * 2
    assert all(broken in t.user_attrs["error"] and "not an image" in t.user_attrs["error"] for t in trials)


def test_trial_folders_of_another_study_are_refused(shapes_data: Path, tmp_path: Path, capsys) -> None:
    from captionbot.cli import main as cli

    output = tmp_path / "taken"
    (output / "trial-000").mkdir(parents=True)
    with pytest.raises(SystemExit) as exit_info:
        cli(["tune", "--data", str(shapes_data), "--output", str(output), "--trials", "1", *FLAGS])
    assert exit_info.value.code == 2
    assert "holds trial-000, which study 'taken' in this storage did not run" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "message"), [
    (["--lr", "1e-4:1e-6"], "LO <= HI"),
    (["--lr", "0:1e-4"], "--lr must be above 0"),
    (["--weight-decay", "nan"], "give a number or a range"),
    (["--label-smoothing", "0:1"], "--label-smoothing must be from 0 up to (not including) 1"),
    (["--batch-size", "16,x"], "give a size or a comma list"),
    (["--warmup", "0.05", "--warmup-steps", "10"], "give one"),
    (["--resume"], "to resume the search, run the same command again"),
    (["--trials", "0"], "--trials must be 1 or more"),
])
def test_bad_flags_name_the_flag(tmp_path: Path, capsys, flags: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        tune.parse_args(["--data", str(tmp_path), "--output", str(tmp_path), "--trials", "2", *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
