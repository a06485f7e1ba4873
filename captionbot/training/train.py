"""`captionbot train`: fine-tune a BLIP captioner on a data set in any layout `captionbot check-data` reads.

    captionbot train --data DATA --base Salesforce/blip-image-captioning-base --output runs/flickr8k

One phase after another: data, model, batches and optimizer, resume; then each epoch: train, validation
loss, every --eval-every epochs the val split captioned and scored (best/ keeps the best CIDEr), every
--save-every epochs a resumable checkpoint. metrics.jsonl in the run folder keeps the whole history. Flags
resolve in `options.py`; the steps of a run are `trainer.Trainer`'s. Under torchrun every process runs this
(`distributed.py`); rank 0 alone writes the run folder and reports to the trackers of --report-to.
"""

import argparse
import json
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import torch
import transformers

from captionbot.blip.loading import load_pretrained
from captionbot.blip.pixels import ImageSpec
from captionbot.blip.prompt import PromptError
from captionbot.blip.recipe import Decoding
from captionbot.core.errors import UsageError
from captionbot.core.registry import TRAINING_CONFIG_FILE, atomic_write_text, read_json
from captionbot.training.checkpoint import BEST, epoch_folder, load_trainer_state, prune_checkpoints, write_model_folder
from captionbot.training.data import DataError, DataSet, load_data
from captionbot.training.distributed import World, barrier, join, leave
from captionbot.training.history import FILE as HISTORY_FILE
from captionbot.training.history import History, Listener
from captionbot.training.scratch import write_random_base
from captionbot.training.options import RECIPE, SCHEDULE, add_train_arguments, is_random, resolve_train_args
from captionbot.training.tracking import open_trackers
from captionbot.training.trainer import Trainer, TrainState

log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="captionbot train", description=__doc__.splitlines()[0])
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return resolve_train_args(args)
    except UsageError as err:
        parser.error(str(err))


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


def command(args: argparse.Namespace) -> int:
    """`captionbot train`: flags parsed by the CLI's parser; bad combinations raise UsageError."""
    return run(resolve_train_args(args))


def run(args: argparse.Namespace, listeners: Sequence[Listener] = ()) -> int:
    """Train as `args` (resolved by `options.resolve_train_args`) say; `listeners` see each record of the
    history as it is written (and are closed when the run ends, however it ends), on rank 0 under torchrun."""
    world, device = join(args.device)
    try:
        return run_process(world, device, args, listeners)
    finally:
        leave(world)


def run_process(world: World, device: torch.device, args: argparse.Namespace, listeners: Sequence[Listener]) -> int:
    """This process's part of the run: all of it alone, a rank's under torchrun."""
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)

    # Data: split by image, so no val or test image is seen in training under another caption.
    data = load_data(args.data)
    if not data.splits["train"] or not data.splits["val"]:
        raise DataError(f"{args.data} needs images in both the train and the val split to train and pick the best.")

    # Model: the checkpoint being resumed, else the base. A random base is written into the run first, so the
    # run records what it started from and `captionbot report` can compare with it.
    resumed = read_json(args.resume / TRAINING_CONFIG_FILE) if args.resume else {}
    start = resumed.get("base_model") or base_model(args, data, output, world)
    if resumed and resumed.get("world_size", 1) != world.size:
        before, per_process = resumed.get("world_size", 1), args.batch_size * args.grad_accum
        log.warning("Resuming a run of %d processes with %d: each optimizer step now sees %d pairs instead of %d",
                    before, world.size, world.size * per_process, before * per_process)
    model_path = args.resume or start
    model, processor = load_pretrained(model_path)
    model.to(device)
    configure_model(model, args)

    # Batches and optimizer: every (image, caption) pair of the train split is one sample.
    try:
        trainer = Trainer(args, model, processor, data, device, world)
    except PromptError as err:  # a prompt the tokenizer cannot spell or --max-tokens cannot hold
        raise UsageError(f"--prompt {args.prompt!r}: {err}; choose another --prompt (or --max-tokens)") from err
    config = training_config(args, data, processor, start, device, world)
    if world.main:
        atomic_write_text(output / TRAINING_CONFIG_FILE, json.dumps(config, indent=2) + "\n")
        history = History(output / HISTORY_FILE, [*listeners, *open_trackers(args.report_to, output, config)])
    else:  # the history, checkpoints and trackers are rank 0's
        history = History(None, listeners)
    try:
        code = train_epochs(trainer, args, history, output, config, processor)
    except BaseException as err:
        history.close(err)
        raise
    history.close()
    return code


def train_epochs(trainer: Trainer, args: argparse.Namespace, history: History, output: Path, config: dict,
                 processor) -> int:
    """Resume where asked, then one epoch after another, until --epochs, --max-steps or --early-stop ends it."""
    data = trainer.data
    if args.resume:  # optimizer, loss scaler, counters and random generators exactly as they were saved
        resume(trainer, args, history)
    log.info("Training on %d pairs (%d images), validating on %d images, %d optimizer steps per epoch, "
             "%d in all, on %s; captions follow the prompt %r", len(trainer.train_pairs), len(data.splits["train"]),
             len(data.splits["val"]), trainer.steps_per_epoch, trainer.total_steps, trainer.device, args.prompt)
    for epoch in range(trainer.state.epoch + 1, args.epochs + 1):
        if early_stopped(args, trainer.state):
            log.info("Stopped early: no better val CIDEr in %d evaluations", args.early_stop)
            break
        run_epoch(trainer, epoch, history, output, config, processor)
        if trainer.state.step >= trainer.total_steps:
            break
    state = trainer.state
    if state.best_epoch is not None:
        log.info("Best val CIDEr %.4f at epoch %d: %s", state.best_cider, state.best_epoch, output / BEST)
    return 0


def base_model(args: argparse.Namespace, data: DataSet, output: Path, world: World) -> str:
    """The base to start from; a random one is written by rank 0 and read by every rank after it."""
    if not is_random(args.base):
        return args.base
    folder = output / "random-init"
    if world.main:
        texts = [caption for example in data.splits["train"] for caption in example.captions] + [args.prompt]
        write_random_base(args.base, texts, folder, args.seed)
    barrier(world)
    return str(folder)


def configure_model(model, args: argparse.Namespace) -> None:
    model.config.text_config.label_smoothing = args.label_smoothing
    model.text_decoder.label_smoothing = args.label_smoothing  # the decoder reads it once, when built
    if args.freeze_vision:
        model.vision_model.requires_grad_(False)


def training_config(args: argparse.Namespace, data: DataSet, processor, start: str, device: torch.device,
                    world: World) -> dict:
    """What made the checkpoint, and how every reader of it decodes (`decoding`: the prompt it learned)."""
    return {
        "base": args.base,
        "base_model": start,
        "data": str(Path(args.data).resolve()),
        "data_format": data.format,
        "splits": data.summary()["splits"],
        "recipe": {key: getattr(args, key) for key in RECIPE},
        "epochs": args.epochs,
        "max_steps": args.max_steps,
        "decoding": Decoding(prompt=args.prompt).to_dict(),
        "image_size": ImageSpec.from_processor(processor.image_processor).size,
        **{key: getattr(args, key) for key in SCHEDULE},
        "device": str(device),
        "world_size": world.size,  # processes, each with --batch-size pairs a micro-batch
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def resume(trainer: Trainer, args: argparse.Namespace, history: History) -> None:
    saved = load_trainer_state(args.resume)
    done = TrainState(**saved["state"])
    if args.epochs < done.epoch:
        raise UsageError(f"--epochs {args.epochs}: {args.resume} has already trained {done.epoch} epochs; "
                         f"give {done.epoch} or more")
    trainer.restore(saved)
    history.truncate(trainer.state.epoch)
    log.info("Resumed from %s at epoch %d, step %d: the schedule runs to step %d (epoch %d), the next step at "
             "%.3g (%.0f%% of the peak rate)", args.resume, done.epoch, done.step, trainer.total_steps, args.epochs,
             trainer.scheduler.get_last_lr()[0], 100 * trainer.lr_factor(done.step))


def early_stopped(args: argparse.Namespace, state: TrainState) -> bool:
    return bool(args.early_stop) and state.evals_since_best >= args.early_stop


def run_epoch(trainer: Trainer, epoch: int, history: History, output: Path, config: dict, processor) -> None:
    """Train one epoch, validate, score, checkpoint."""
    args, state, model = trainer.args, trainer.state, trainer.model
    started = time.perf_counter()
    train_loss = trainer.train_epoch(epoch, history)
    val_loss = trainer.validation_loss()
    state.epoch = epoch
    metrics = {"epoch": epoch, "step": state.step, "train_loss": train_loss, "val_loss": val_loss}
    history.append("epoch", **metrics, seconds=time.perf_counter() - started)
    last = epoch == args.epochs or state.step >= trainer.total_steps
    if epoch % args.eval_every == 0 or last:
        scores = trainer.score_val()
        history.append("eval", epoch=epoch, step=state.step, split="val", **scores)
        metrics.update(split="val", **scores)
        if state.best_cider is None or scores["CIDEr"] > state.best_cider:
            state.best_cider, state.best_epoch, state.evals_since_best = scores["CIDEr"], epoch, 0
            if trainer.world.main:
                write_model_folder(output / BEST, model, processor, config, metrics)
                history.append("best", epoch=epoch, step=state.step, CIDEr=scores["CIDEr"], path=str(output / BEST))
        else:
            state.evals_since_best += 1
        log.info("epoch %d: val BLEU-4 %.4f, CIDEr %.4f", epoch, scores["BLEU-4"], scores["CIDEr"])
    log.info("epoch %d: train loss %.4f, val loss %.4f (%.0f s)", epoch, train_loss, val_loss,
             time.perf_counter() - started)
    if trainer.world.main and (epoch % args.save_every == 0 or last or early_stopped(args, state)):
        write_model_folder(epoch_folder(output, epoch), model, processor, config, metrics, trainer.checkpoint_state())
        prune_checkpoints(output, args.keep_checkpoints)
