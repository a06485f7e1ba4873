"""`captionbot train --report-to tensorboard,mlflow,wandb`: the run's history sent to experiment trackers as
it is written (each tracker a `history.Listener`), on rank 0 only.

Each gets the run's options as parameters, the training loss, learning rate and throughput by optimizer step
(`train/…`), the validation loss and scores by epoch (`val/…`) and the best checkpoint's path:

- TensorBoard: event files in RUN/tensorboard (`tensorboard --logdir runs`), the options as HParams and text.
- MLflow: a run at MLFLOW_TRACKING_URI (default ./mlruns) in MLFLOW_EXPERIMENT_NAME's experiment; the best
  checkpoint as the tag `best_checkpoint`.
- W&B: a run in WANDB_PROJECT (default captionbot) under RUN/wandb, offline with WANDB_MODE=offline; the best
  checkpoint in the run's summary.

The tracker packages are imported only when asked for; a missing one is a UsageError that says what to install.
"""

import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path

from captionbot.core.errors import UsageError
from captionbot.training.history import Listener

TRACKERS = ("tensorboard", "mlflow", "wandb")
# What to `pip install` for each, and the module that shows it is there.
PACKAGES = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow-skinny", "mlflow"),
            "wandb": ("wandb", "wandb")}
NOT_SCALARS = ("epoch", "step", "split")


def parse_report_to(text: str) -> list[str]:
    """`none` or a comma list of trackers, each installed; the trackers named."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if names == ["none"]:
        return []
    unknown = [name for name in names if name not in TRACKERS]
    if not names or unknown:
        raise UsageError(f"--report-to {text}: give none or a comma list of {', '.join(TRACKERS)}")
    for name in names:
        if importlib.util.find_spec(PACKAGES[name][1]) is None:
            raise missing(name)
    return list(dict.fromkeys(names))


def missing(name: str) -> UsageError:
    extra = "training" if name == "tensorboard" else "tracking"
    return UsageError(f"--report-to {name} needs the {PACKAGES[name][0]} package: pip install {PACKAGES[name][0]} "
                      f"(or pip install 'captionbot[{extra}]')")


def open_trackers(names: Sequence[str], output: Path, config: dict) -> list[Listener]:
    makers = {"tensorboard": TensorBoard, "mlflow": MLflow, "wandb": WandB}
    opened: list[Listener] = []
    try:
        for name in names:
            try:
                opened.append(makers[name](output, parameters(config)))
            except ImportError as err:
                raise missing(name) from err
    except BaseException as err:
        for tracker in opened:
            tracker.close(err)
        raise
    return opened


def parameters(config: dict) -> dict:
    """training_config.json one level deep: the recipe's keys beside the run's own (data, base, epochs, ...)."""
    flat = {key: value for key, value in config.items() if not isinstance(value, (dict, list))}
    return {**flat, **config["recipe"]}


def scalars(kind: str, record: dict) -> tuple[str, dict[str, float]]:
    """The axis a record is plotted along (`step` or `epoch`) and its figures under tracker names."""
    if kind == "train":
        return "step", {"train/loss": record["loss"], "train/lr": record["lr"],
                        "train/images_per_s": record["images_per_s"]}
    if kind == "epoch":
        return "epoch", {"train/epoch_loss": record["train_loss"], "val/loss": record["val_loss"]}
    if kind == "eval":
        return "epoch", {f"{record['split']}/{key}": value for key, value in record.items()
                         if key not in NOT_SCALARS and value is not None}  # METEOR is None without Java
    return "step", {}


def run_status(error: BaseException | None) -> str:
    """How MLflow names the way a run ended."""
    if error is None:
        return "FINISHED"
    return "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"


class TensorBoard:
    def __init__(self, output: Path, options: dict) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        self.writer = SummaryWriter(log_dir=str(output / "tensorboard"))
        self.writer.add_text("options", "```\n" + json.dumps(options, indent=2) + "\n```")
        shown = {key: value if isinstance(value, (int, float, str, bool)) else str(value)
                 for key, value in options.items()}
        for summary in hparams(shown, {"val/CIDEr": 0.0, "val/loss": 0.0}):
            self.writer.file_writer.add_summary(summary)

    def record(self, kind: str, record: dict) -> None:
        if kind == "best":
            self.writer.add_text("best_checkpoint", record["path"], record["epoch"])
            return
        axis, figures = scalars(kind, record)
        for tag, value in figures.items():
            self.writer.add_scalar(tag, value, record[axis])

    def close(self, error: BaseException | None = None) -> None:
        self.writer.close()


class MLflow:
    def __init__(self, output: Path, options: dict) -> None:
        import mlflow

        self.mlflow, self.client = mlflow, mlflow.MlflowClient()
        self.run = mlflow.start_run(run_name=output.name, nested=mlflow.active_run() is not None)
        for key, value in options.items():
            self.client.log_param(self.run.info.run_id, key, str(value))

    def record(self, kind: str, record: dict) -> None:
        client, run_id = self.client, self.run.info.run_id
        if kind == "best":
            client.set_tag(run_id, "best_checkpoint", record["path"])
            return
        axis, figures = scalars(kind, record)
        for key, value in figures.items():
            client.log_metric(run_id, key, value, step=record[axis])

    def close(self, error: BaseException | None = None) -> None:
        self.mlflow.end_run(status=run_status(error))


class WandB:
    def __init__(self, output: Path, options: dict) -> None:
        import wandb

        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "captionbot"), name=output.name,
                              dir=str(output), config=options, reinit="create_new")
        self.run.define_metric("epoch")
        self.run.define_metric("val/*", step_metric="epoch")
        self.run.define_metric("train/epoch_loss", step_metric="epoch")

    def record(self, kind: str, record: dict) -> None:
        if kind == "best":
            self.run.summary["best_checkpoint"] = record["path"]
            return
        axis, figures = scalars(kind, record)
        self.run.log({**figures, "epoch": record["epoch"]}, step=record["step"])

    def close(self, error: BaseException | None = None) -> None:
        self.run.finish(exit_code=0 if error is None else 1)
