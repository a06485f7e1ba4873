"""`--report-to`: a tiny run reported to TensorBoard, MLflow and W&B (offline), each read back as its own tools
read it; flags that name an unknown tracker or one not installed are refused with what to do."""

import json
import sys
from pathlib import Path

import pytest

from captionbot.training.history import read_history
from captionbot.training.options import resolve_train_args
from captionbot.training.train import main, parse_args, run

FLAGS = ["--base", "random:tiny", "--epochs", "2", "--batch-size", "32", "--lr", "2e-3", "--log-every", "2"]
VAL_SCORES = ("BLEU-1", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr")


@pytest.fixture(scope="module")
def tracked(shapes_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("tracked")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", tracking_uri)
        env.setenv("MLFLOW_EXPERIMENT_NAME", "captions")
        env.setenv("WANDB_MODE", "offline")
        env.setenv("WANDB_SILENT", "true")
        output = root / "run"
        assert main(["--data", str(shapes_data), "--output", str(output), "--report-to", "tensorboard, mlflow,wandb",
                     *FLAGS]) == 0
    return output, tracking_uri


def history_of(run: Path, kind: str) -> list[dict]:
    return [record for record in read_history(run / "metrics.jsonl") if record["kind"] == kind]


def test_tensorboard_events_hold_the_history(tracked: tuple[Path, str]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, _ = tracked
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    train, epochs, evals = history_of(run, "train"), history_of(run, "epoch"), history_of(run, "eval")
    assert [(e.step, e.value) for e in events.Scalars("train/loss")] == [
        (r["step"], pytest.approx(r["loss"])) for r in train]
    assert [e.value for e in events.Scalars("train/lr")] == pytest.approx([r["lr"] for r in train])
    assert [(e.step, e.value) for e in events.Scalars("val/loss")] == [
        (r["epoch"], pytest.approx(r["val_loss"])) for r in epochs]
    for name in VAL_SCORES:
        assert [(e.step, e.value) for e in events.Scalars(f"val/{name}")] == [
            (r["epoch"], pytest.approx(r[name])) for r in evals]
    options = events.Tensors("options/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"lr": 0.002' in options and '"batch_size": 32' in options
    best = events.Tensors("best_checkpoint/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert best == str(run / "best")


def test_mlflow_run_holds_the_options_history_and_best_checkpoint(tracked: tuple[Path, str]) -> None:
    from mlflow import MlflowClient

    run, tracking_uri = tracked
    client = MlflowClient(tracking_uri)
    [found] = client.search_runs([client.get_experiment_by_name("captions").experiment_id])
    assert found.info.run_name == "run" and found.info.status == "FINISHED"
    assert found.data.params["lr"] == "0.002" and found.data.params["batch_size"] == "32"
    assert found.data.params["world_size"] == "1"
    assert found.data.tags["best_checkpoint"] == str(run / "best")
    history = {key: [(m.step, m.value) for m in client.get_metric_history(found.info.run_id, key)]
               for key in ("train/loss", "train/lr", "val/loss", *(f"val/{name}" for name in VAL_SCORES))}
    assert history["train/loss"] == [(r["step"], pytest.approx(r["loss"])) for r in history_of(run, "train")]
    assert history["val/loss"] == [(r["epoch"], pytest.approx(r["val_loss"])) for r in history_of(run, "epoch")]
    for name in VAL_SCORES:
        assert history[f"val/{name}"] == [(r["epoch"], pytest.approx(r[name])) for r in history_of(run, "eval")]


class Breaks:
    """A listener that fails the run at its first evaluation, as a crash mid-run would."""

    def record(self, kind: str, record: dict) -> None:
        if kind == "eval":
            raise RuntimeError("the disk filled up")

    def close(self, error: BaseException | None = None) -> None:
        pass


def test_a_run_that_fails_is_marked_failed_in_mlflow(shapes_data: Path, tmp_path: Path, monkeypatch) -> None:
    from mlflow import MlflowClient

    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "failures")
    args = resolve_train_args(parse_args(["--data", str(shapes_data), "--output", str(tmp_path / "run"),
                                          "--report-to", "mlflow", *FLAGS]))
    with pytest.raises(RuntimeError, match="the disk filled up"):
        run(args, listeners=[Breaks()])
    client = MlflowClient(tracking_uri)
    [found] = client.search_runs([client.get_experiment_by_name("failures").experiment_id])
    assert found.info.status == "FAILED"
    assert [m.step for m in client.get_metric_history(found.info.run_id, "val/CIDEr")] == [1]  # heard before it broke


def test_wandb_offline_run_is_written_in_the_run_folder(tracked: tuple[Path, str]) -> None:
    run, _ = tracked
    [offline] = (run / "wandb").glob("offline-run-*")
    [log] = offline.glob("run-*.wandb")  # W&B's own record log, read by `wandb sync`
    records = log.read_bytes()
    for expected in (b"best_checkpoint", json.dumps(str(run / "best")).encode(), b"val/CIDEr", b"train/lr",
                     b"label_smoothing"):
        assert expected in records, expected


def test_report_to_is_none_by_default(shapes_data: Path, tmp_path: Path) -> None:
    args = parse_args(["--data", str(shapes_data), "--output", str(tmp_path)])
    assert args.report_to == []


@pytest.mark.parametrize("tracker,install", [("tensorboard", "tensorboard"), ("mlflow", "mlflow-skinny"),
                                             ("wandb", "wandb")])
def test_a_tracker_not_installed_says_what_to_install(shapes_data: Path, tmp_path: Path, capsys,
                                                      monkeypatch: pytest.MonkeyPatch, tracker: str,
                                                      install: str) -> None:
    monkeypatch.setitem(sys.modules, tracker, None)  # what `import` finds where the package is not installed
    with pytest.raises(SystemExit):
        parse_args(["--data", str(shapes_data), "--output", str(tmp_path), "--report-to", f"tensorboard,{tracker}"])
    assert f"needs the {install} package: pip install {install}" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["comet", "none,tensorboard", ","])
def test_an_unknown_tracker_is_refused(shapes_data: Path, tmp_path: Path, capsys, value: str) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--data", str(shapes_data), "--output", str(tmp_path), "--report-to", value])
    assert f"--report-to {value}: give none or a comma list of tensorboard, mlflow, wandb" in capsys.readouterr().err
