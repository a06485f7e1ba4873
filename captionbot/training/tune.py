"""`captionbot tune`: an Optuna study over the learning rate, warm-up, weight decay, label smoothing and batch
size, each trial a short `captionbot train` run scored on its best val CIDEr.

    captionbot tune --data DATA --base Salesforce/blip-image-captioning-base --output runs/search --trials 20 \
        --epochs 10 --trial-epochs 2

Each trial trains into OUTPUT/trial-NNN with every other train flag as given; a trial whose val CIDEr falls
behind the others' at the same epoch is pruned there, and one that fails (out of memory, a bad image) is
recorded as failed while the study goes on. The study lives in an Optuna storage (SQLite at OUTPUT/study.db by
default), so the same command resumes it and a larger --trials extends it. The best trial is printed and written
to OUTPUT/best.json with the `captionbot train` command that trains it in full.
"""

import argparse
import json
import logging
import math
import re
import shlex
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import optuna
import sqlalchemy
import torch

from captionbot.core.errors import UsageError
from captionbot.core.registry import atomic_write_text
from captionbot.training import train
from captionbot.training.checkpoint import BEST
from captionbot.training.data import load_data
from captionbot.training.options import RECIPE, resolve_train_args
from captionbot.training.schedule import optimizer_steps
from captionbot.training.tune_options import DEFAULT_STORAGE, SEARCH, Span, add_tune_arguments, resolve_tune_args
from captionbot.training.tune_options import train_argv

log = logging.getLogger(__name__)

BEST_FILE = "best.json"
TRIAL_FILE = "trial.json"
FULL_RUN = "full"
TRIAL_FOLDER = re.compile(r"trial-(\d+)")
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
# A trial whose process died stays RUNNING in the storage; without a heartbeat for this long it is failed.
HEARTBEAT_S, GRACE_S = 30, 120


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="captionbot tune", description=__doc__.splitlines()[0],
                                     conflict_handler="resolve")
    add_tune_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return resolve_tune_args(args)
    except UsageError as err:
        parser.error(str(err))


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


def command(args: argparse.Namespace) -> int:
    """`captionbot tune`: flags parsed by the CLI's parser; bad combinations raise UsageError."""
    return run(resolve_tune_args(args))


def run(args: argparse.Namespace, pruner: optuna.pruners.BasePruner | None = None) -> int:
    """Run the trials the study still lacks of --trials, then report its best. `pruner` replaces --pruner's."""
    output = Path(args.output)
    # The data and the flags once, up front: a missing folder or a bad combination stops here, not in every trial.
    pairs = sum(len(example.captions) for example in load_data(args.data).splits["train"]) if args.data else 0
    train_args(args, fixed_values(args), output / FULL_RUN, args.epochs, pairs)
    output.mkdir(parents=True, exist_ok=True)
    study = open_study(args, output, pruner or make_pruner(args.pruner))
    check_trial_folders(study, output)
    remaining = args.trials - len(study.get_trials(deepcopy=False, states=FINISHED))
    if remaining > 0:
        seed = RECIPE["seed"] if args.seed is None else args.seed
        study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))  # resumed: new draws
        study.optimize(lambda trial: objective(trial, args, output, pairs), n_trials=remaining,
                       timeout=args.timeout, catch=(Exception,), gc_after_trial=True,
                       callbacks=[optuna.study.MaxTrialsCallback(args.trials, states=FINISHED), after_trial])
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        print(f"captionbot tune: error: no trial of study {study.study_name!r} completed "
              f"({counts(study)}); the log above says why", file=sys.stderr)
        return 1
    best = best_summary(study, args, output, pairs)
    atomic_write_text(output / BEST_FILE, json.dumps(best, indent=2) + "\n")
    print(format_best(best))
    return 0


def objective(trial: optuna.Trial, args: argparse.Namespace, output: Path, pairs: int) -> float:
    """One short training with the trial's values; its score is the best val CIDEr of its evaluations."""
    values = fixed_values(args) | suggested_values(trial, args)
    folder = output / f"trial-{trial.number:03d}"
    trial.set_user_attr("run", str(folder))
    reporter = TrialReporter(trial)
    try:
        train.run(train_args(args, values, folder, args.trial_epochs or args.epochs, pairs), listeners=[reporter])
    except optuna.TrialPruned:
        raise
    except Exception as err:  # recorded with the trial; Optuna marks it failed and goes on
        trial.set_user_attr("error", f"{type(err).__name__}: {err}")
        raise
    if reporter.best is None:
        raise RuntimeError(f"{folder}: the run ended without a val evaluation")
    return reporter.best


class TrialReporter:
    """A training history listener: reports each val CIDEr to the trial and stops a trial the pruner drops.

    It raises TrialPruned right after the evaluation's record is written, before that epoch's best/ and
    checkpoint: the run folder holds the checkpoints of the epochs before, and its history says why it ended."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial, self.best = trial, None

    def record(self, kind: str, record: dict) -> None:
        if kind != "eval":
            return
        cider, epoch = record["CIDEr"], record["epoch"]
        self.best = cider if self.best is None else max(self.best, cider)
        self.trial.report(cider, epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"val CIDEr {cider:.4f} at epoch {epoch}")

    def close(self, error: BaseException | None = None) -> None:
        pass


def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Write what became of the trial beside its run, and give a failed trial's GPU memory back."""
    folder = Path(trial.user_attrs.get("run", ""))
    if folder.name and folder.is_dir():
        summary = {"number": trial.number, "state": trial.state.name, "CIDEr": trial.value, "params": trial.params,
                   "CIDEr_by_epoch": trial.intermediate_values, "error": trial.user_attrs.get("error")}
        atomic_write_text(folder / TRIAL_FILE, json.dumps(summary, indent=2) + "\n")
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def fixed_values(args: argparse.Namespace) -> dict:
    """The searched options given one value: they are passed to every trial as they are."""
    values = {}
    for key in SEARCH:
        space = getattr(args, key)
        if isinstance(space, Span) and space.fixed:
            values[key] = space.low
        elif isinstance(space, tuple) and len(space) == 1:
            values[key] = space[0]
    return values


def suggested_values(trial: optuna.Trial, args: argparse.Namespace) -> dict:
    values = {}
    for key in SEARCH:
        space = getattr(args, key)
        if isinstance(space, Span) and not space.fixed:
            values[key] = trial.suggest_float(key, space.low, space.high, log=space.log)
        elif isinstance(space, tuple) and len(space) > 1:
            values[key] = trial.suggest_categorical(key, list(space))
    return values


def train_args(args: argparse.Namespace, values: dict, output: Path, epochs: int | None,
               pairs: int) -> argparse.Namespace:
    """`captionbot train`'s options for `values`, every other flag as the search was given it."""
    trained = argparse.Namespace(**vars(args))
    vars(trained).update({key: value for key, value in values.items() if key != "warmup"}, output=output,
                         epochs=epochs)
    for key in SEARCH:  # a searched option not drawn here: the recipe's, for the checks
        if isinstance(getattr(trained, key), Span | tuple):
            setattr(trained, key, None if key == "warmup" else RECIPE[key])
    resolve_train_args(trained)
    if "warmup" in values:
        _, steps = optimizer_steps(math.ceil(pairs / trained.batch_size), trained.grad_accum, trained.epochs,
                                   trained.max_steps)
        trained.warmup_steps = round(values["warmup"] * steps)
    return trained


def storage_url(args: argparse.Namespace, output: Path) -> str:
    return args.storage or f"sqlite:///{(output / DEFAULT_STORAGE).resolve()}"


def shown_url(url: str) -> str:
    """The storage's address without its password, for the log and best.json."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url


def open_study(args: argparse.Namespace, output: Path, pruner: optuna.pruners.BasePruner) -> optuna.Study:
    url = storage_url(args, output)
    try:
        with warnings.catch_warnings():  # the heartbeat is "experimental" since Optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S)
    except (ValueError, ImportError, sqlalchemy.exc.SQLAlchemyError) as err:
        raise UsageError(f"--storage {shown_url(url)}: Optuna cannot open it ({err}); give a database URL such as "
                         "sqlite:///study.db or postgresql://host/db") from err
    name = args.study_name or output.resolve().name
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize", pruner=pruner,
                                load_if_exists=True)
    log.info("Study %r in %s: %d trials so far (%s)", name, shown_url(url), len(study.trials), counts(study))
    return study


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    if name == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)  # epochs count from 1


def check_trial_folders(study: optuna.Study, output: Path) -> None:
    """Refuse an output folder holding trials that this study did not run: a trial would train into them."""
    known = {trial.number for trial in study.trials}
    strays = sorted(path.name for path in output.iterdir()
                    if (match := TRIAL_FOLDER.fullmatch(path.name)) and int(match[1]) not in known)
    if strays:
        raise UsageError(f"{output} holds {', '.join(strays)}, which study {study.study_name!r} in this storage did "
                         "not run: give the --storage and --study-name they came from, or another --output")


STATE_WORDS = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
               "WAITING": "waiting"}


def counts(study: optuna.Study) -> str:
    states = [trial.state.name for trial in study.trials]
    return ", ".join(f"{states.count(state)} {word}" for state, word in STATE_WORDS.items() if state in states) \
        or "none"


def best_summary(study: optuna.Study, args: argparse.Namespace, output: Path, pairs: int) -> dict:
    """The best trial, and the command that trains it for the full --epochs into OUTPUT/full."""
    best = study.best_trial
    full = train_args(args, fixed_values(args) | best.params, output / FULL_RUN, args.epochs, pairs)
    argv = ["captionbot", "train", *train_argv(full)]
    return {"study": study.study_name, "storage": shown_url(storage_url(args, output)), "trial": best.number,
            "CIDEr": best.value, "params": best.params, "CIDEr_by_epoch": best.intermediate_values,
            "run": best.user_attrs["run"], "model": str(Path(best.user_attrs["run"]) / BEST),
            "trials": counts(study), "command": argv, "command_line": shlex.join(argv)}


def format_best(best: dict) -> str:
    params = ", ".join(f"{key} {value:.4g}" for key, value in best["params"].items())
    return "\n".join([
        f"Best of study {best['study']!r} ({best['trials']}): trial {best['trial']}, val CIDEr {best['CIDEr']:.4f}, "
        f"{best['run']}",
        f"  {params or 'nothing searched'}",
        "Train it in full:",
        f"  {best['command_line']}",
    ])
