"""`captionbot train`: fine-tune a BLIP captioner on a Flickr8k-layout data set.

    captionbot train --data DATA --base Salesforce/blip-image-captioning-base --output runs/flickr8k

One phase after another: data, model, batches, optimizer; then each epoch: train, validation loss, every
--eval-every epochs the val split captioned and scored (best/ keeps the best CIDEr), every --save-every
epochs a resumable checkpoint. metrics.jsonl in the run folder keeps the whole history.
"""

import argparse
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import torch
import transformers
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader
from tqdm import tqdm

from captionbot.core.errors import UsageError
from captionbot.core.registry import TRAINING_CONFIG_FILE, atomic_write_text, read_json
from captionbot.core.settings import get_settings
from captionbot.training.augment import ImageTransform
from captionbot.training.captioning import autocast, caption_pictures
from captionbot.training.checkpoint import (
    BEST,
    TRAINER_STATE,
    epoch_checkpoints,
    epoch_folder,
    load_trainer_state,
    prune_checkpoints,
    restore_rng,
    rng_state,
    write_model_folder,
)
from captionbot.training.data import DataError, DataSet, Example, load_data
from captionbot.training.dataset import (
    IGNORE_INDEX,
    CaptionCollator,
    CaptionPairs,
    EpochSampler,
    PictureStore,
    PlainPictures,
)
from captionbot.training.history import FILE as HISTORY_FILE
from captionbot.training.history import History
from captionbot.training.metrics import score
from captionbot.training.models import (
    RANDOM_PREFIX,
    RANDOM_SHAPES,
    image_size,
    is_random,
    load_model,
    load_processor,
    pick_device,
    write_random_base,
)
from captionbot.training.options import RECIPE, add_train_arguments
from captionbot.training.schedule import default_warmup, lr_factor

log = logging.getLogger(__name__)

GRAD_CLIP = 1.0
VAL_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr")


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    best_cider: float | None = None
    best_epoch: int | None = None
    evals_since_best: int = 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="captionbot train", description=__doc__.splitlines()[0])
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return resolve_args(args)
    except UsageError as err:
        parser.error(str(err))


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


def command(args: argparse.Namespace) -> int:
    """`captionbot train`: flags parsed by the CLI's parser; bad combinations raise UsageError."""
    return run(resolve_args(args))


def resolve_args(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the recipe's defaults (with --resume: the run's own values) and check flag combinations."""
    previous: dict = {}
    if args.resume:
        args.resume = find_checkpoint(args.output, args.resume)
        previous = read_json(args.resume / TRAINING_CONFIG_FILE)
    for key, default in RECIPE.items():
        given, before = getattr(args, key), previous.get("recipe", {}).get(key, default)
        if previous and given is not None and given != before:
            flag = "--" + key.replace("_", "-")
            raise UsageError(f"{flag} {given} differs from the resumed run's {before}; --resume continues a run as it "
                             f"was configured: leave {flag} out, or train into a new --output")
        setattr(args, key, before if given is None else given)
    args.data = args.data or (Path(previous["data"]) if previous else None)
    args.base = args.base or previous.get("base") or get_settings().pretrained_model
    _check(args)
    return args


def _check(args: argparse.Namespace) -> None:
    if args.data is None:
        raise UsageError("--data is required (a Flickr8k-layout folder), unless --resume continues a run")
    positive = ("epochs", "batch_size", "grad_accum", "max_tokens", "eval_every", "save_every", "log_every",
                "keep_checkpoints")
    for key in positive:
        if getattr(args, key) < 1:
            raise UsageError(f"--{key.replace('_', '-')} must be 1 or more")
    if args.lr <= 0 or args.weight_decay < 0 or (args.warmup_steps or 0) < 0 or args.early_stop < 0:
        raise UsageError("--lr must be above 0, and --weight-decay, --warmup-steps and --early-stop 0 or more")
    if not 0 <= args.label_smoothing < 1:
        raise UsageError("--label-smoothing must be from 0 up to (not including) 1")
    if is_random(args.base) and args.base.removeprefix(RANDOM_PREFIX) not in RANDOM_SHAPES:
        raise UsageError(f"--base {args.base}: use {' or '.join(RANDOM_PREFIX + s for s in RANDOM_SHAPES)}")
    if args.precision == "fp16" and pick_device(args.device).type != "cuda":
        raise UsageError("--precision fp16 needs a CUDA GPU; use --precision bf16 or fp32 on the CPU")


def find_checkpoint(output: Path, resume: str | Path) -> Path:
    if resume != "latest":
        if not (Path(resume) / TRAINER_STATE).is_file():
            raise UsageError(f"--resume {resume} is not a checkpoint-epoch-N folder (it has no {TRAINER_STATE})")
        return Path(resume)
    found = epoch_checkpoints(output)
    if not found:
        raise UsageError(f"--resume found no checkpoint-epoch-N folder in {output}; name one with --resume PATH")
    return found[-1][1]


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """None for fp32; AMP on a GPU by default (bf16 where supported), never by default on the CPU."""
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    # Matrices decay; biases and norm weights do not (nanoGPT's split).
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr)


class Window:
    """Loss and throughput since the last line written to metrics.jsonl."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.pairs, self.started = 0, time.perf_counter()

    def add(self, loss: float, pairs: int) -> None:
        self.losses.append(loss)
        self.pairs += pairs

    def mean_loss(self) -> float:
        return sum(self.losses) / max(1, len(self.losses))

    def images_per_s(self) -> float:
        return self.pairs / max(1e-9, time.perf_counter() - self.started)


class Trainer:
    """The parts of one run and the steps between them."""

    def __init__(self, args: argparse.Namespace, model, processor, data: DataSet, device: torch.device) -> None:
        self.args, self.model, self.tokenizer, self.device = args, model, processor.tokenizer, device
        self.dtype = autocast_dtype(args.precision, device)
        train, val = data.splits["train"], data.splits["val"]
        size, images = image_size(processor), processor.image_processor
        plain = ImageTransform(size, tuple(images.image_mean), tuple(images.image_std))
        # Decoded once and kept (or decoded per access without --image-cache); shorter side = input size.
        threads = os.cpu_count() or 1
        train_store = PictureStore([e.path for e in train], size, args.image_cache, threads)
        val_store = PictureStore([e.path for e in val], size, args.image_cache, threads)
        self.train_pairs = CaptionPairs(train, train_store, replace(plain, augment=args.augment), args.seed)
        self.val_pairs = CaptionPairs(val, val_store, plain, args.seed)
        self.val_pictures = PlainPictures(val_store, plain)
        self.val_references = {e.image: list(e.captions) for e in val}
        self.collator = CaptionCollator(self.tokenizer, model.config.text_config.bos_token_id, args.max_tokens)
        # Optimizer, then the schedule: stepped per optimizer step (not micro-batch).
        self.steps_per_epoch = math.ceil(math.ceil(len(self.train_pairs) / args.batch_size) / args.grad_accum)
        total_steps = self.steps_per_epoch * args.epochs
        if args.warmup_steps is None:
            args.warmup_steps = default_warmup(total_steps)
        self.optimizer = make_optimizer(model, args.lr, args.weight_decay)
        self.scheduler = LambdaLR(
            self.optimizer, partial(lr_factor, warmup_steps=args.warmup_steps, total_steps=total_steps)
        )
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.dtype == torch.float16)
        self.state = TrainState()

    def loader(self, pairs: CaptionPairs, epoch: int, shuffle: bool) -> DataLoader:
        workers = self.args.workers
        if workers is None:
            workers = 0 if self.device.type == "cpu" else min(8, os.cpu_count() or 1)
        if workers:
            # The collator tokenizes in forked workers: the Rust tokenizer's own threads must stay off.
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        return DataLoader(
            pairs,
            batch_size=self.args.batch_size,
            sampler=EpochSampler(len(pairs), epoch, self.args.seed, shuffle),
            collate_fn=self.collator,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
        )

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = {key: value.to(self.device, non_blocking=True) for key, value in batch.items()}
        with autocast(self.device, self.dtype):
            return self.model(**batch).loss  # mean over the batch's target tokens

    def train_epoch(self, epoch: int, history: History) -> float:
        """One pass over the shuffled training pairs; the epoch's mean loss."""
        args, model = self.args, self.model
        model.train()
        if args.freeze_vision:
            model.vision_model.eval()
        loader = self.loader(self.train_pairs, epoch, shuffle=True)
        batches, epoch_losses, window = len(loader), [], Window()
        bar = tqdm(total=batches, desc=f"epoch {epoch}/{args.epochs}", unit="batch", disable=None, leave=False)
        for index, batch in enumerate(loader):
            # The last optimizer step of an epoch may gather fewer micro-batches: average over those.
            group = min(args.grad_accum, batches - index // args.grad_accum * args.grad_accum)
            loss = self.loss(batch)
            self.scaler.scale(loss / group).backward()
            epoch_losses.append(loss.item())
            window.add(epoch_losses[-1], len(batch["input_ids"]))
            if (index + 1) % args.grad_accum == 0 or index + 1 == batches:
                lr = self.scheduler.get_last_lr()[0]  # the rate this step uses
                self.optimizer_step()
                bar.set_postfix(loss=f"{epoch_losses[-1]:.3f}", img_s=f"{window.images_per_s():.0f}")
                if self.state.step % args.log_every == 0:
                    history.append("train", epoch=epoch, step=self.state.step, loss=window.mean_loss(), lr=lr,
                                   images_per_s=window.images_per_s())
                    window = Window()
            bar.update()
        bar.close()
        return sum(epoch_losses) / max(1, len(epoch_losses))

    def optimizer_step(self) -> None:
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_([p for g in self.optimizer.param_groups for p in g["params"]], GRAD_CLIP)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.state.step += 1

    @torch.no_grad()
    def validation_loss(self) -> float:
        """Token-weighted cross-entropy on the val pairs, without label smoothing, without augmentation."""
        decoder = self.model.text_decoder
        smoothing, decoder.label_smoothing = decoder.label_smoothing, 0.0
        self.model.eval()
        try:
            total, tokens = 0.0, 0
            for batch in self.loader(self.val_pairs, epoch=0, shuffle=False):
                count = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
                total += self.loss(batch).item() * count
                tokens += count
            return total / max(1, tokens)
        finally:
            decoder.label_smoothing = smoothing

    def score_val(self) -> dict[str, float]:
        captions = caption_pictures(self.model, self.tokenizer, self.val_pictures, self.args.batch_size * 2,
                                    dtype=self.dtype)
        return score(self.val_references, dict(zip(self.val_references, captions)), VAL_METRICS)

    def checkpoint_state(self) -> dict:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "state": asdict(self.state),
            "rng": rng_state(),
        }

    def restore(self, saved: dict) -> None:
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self.scaler.load_state_dict(saved["scaler"])
        self.state = TrainState(**saved["state"])
        restore_rng(saved["rng"])


def configure_model(model, args: argparse.Namespace) -> None:
    model.config.text_config.label_smoothing = args.label_smoothing
    model.text_decoder.label_smoothing = args.label_smoothing  # the decoder reads it once, when built
    if args.freeze_vision:
        model.vision_model.requires_grad_(False)


def base_model(args: argparse.Namespace, train: list[Example], output: Path) -> str:
    """The model to start from. A random one is written into the run folder first, so the run records what
    it started from and `captionbot report` can compare with it."""
    if not is_random(args.base):
        return args.base
    captions = [caption for example in train for caption in example.captions]
    return str(write_random_base(args.base, captions, output / "random-init", args.seed))


def training_config(args: argparse.Namespace, data: DataSet, processor, start: str, device: torch.device) -> dict:
    return {
        "base": args.base,
        "base_model": start,
        "data": str(Path(args.data).resolve()),
        "data_format": data.format,
        "splits": data.summary()["splits"],
        "recipe": {key: getattr(args, key) for key in RECIPE},
        "image_size": image_size(processor),
        "eval_every": args.eval_every,
        "save_every": args.save_every,
        "early_stop": args.early_stop,
        "device": str(device),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def run(args: argparse.Namespace) -> int:
    """Train as `args` (resolved by `resolve_args`) say."""
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    device = pick_device(args.device)
    torch.manual_seed(args.seed)

    # Data: split by image; each (image, caption) pair of the train split is one sample.
    data = load_data(args.data)
    if not data.splits["train"] or not data.splits["val"]:
        raise DataError(f"{args.data} needs images in both the train and the val split to train and pick the best.")

    # Model: the checkpoint being resumed, else the base.
    resumed = read_json(args.resume / TRAINING_CONFIG_FILE) if args.resume else {}
    start = resumed.get("base_model") or base_model(args, data.splits["train"], output)
    model_path = args.resume or start
    model, processor = load_model(model_path, device), load_processor(model_path)
    configure_model(model, args)
    trainer = Trainer(args, model, processor, data, device)
    config = training_config(args, data, processor, start, device)
    atomic_write_text(output / TRAINING_CONFIG_FILE, json.dumps(config, indent=2) + "\n")

    history = History(output / HISTORY_FILE)
    if args.resume:
        trainer.restore(load_trainer_state(args.resume))
        history.truncate(trainer.state.epoch)
        log.info("Resumed from %s at epoch %d, step %d", args.resume, trainer.state.epoch, trainer.state.step)
    log.info("Training on %d pairs (%d images), validating on %d images, %d optimizer steps per epoch, on %s",
             len(trainer.train_pairs), len(data.splits["train"]), len(data.splits["val"]), trainer.steps_per_epoch,
             device)
    for epoch in range(trainer.state.epoch + 1, args.epochs + 1):
        if early_stopped(args, trainer.state):
            log.info("Stopped early: no better val CIDEr in %d evaluations", args.early_stop)
            break
        run_epoch(trainer, epoch, history, output, config, processor)
    state = trainer.state
    if state.best_epoch is not None:
        log.info("Best val CIDEr %.4f at epoch %d: %s", state.best_cider, state.best_epoch, output / BEST)
    return 0


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
    last = epoch == args.epochs
    if epoch % args.eval_every == 0 or last:
        scores = trainer.score_val()
        history.append("eval", epoch=epoch, step=state.step, split="val", **scores)
        metrics.update(split="val", **scores)
        if state.best_cider is None or scores["CIDEr"] > state.best_cider:
            state.best_cider, state.best_epoch, state.evals_since_best = scores["CIDEr"], epoch, 0
            write_model_folder(output / BEST, model, processor, config, metrics)
        else:
            state.evals_since_best += 1
        log.info("epoch %d: val BLEU-4 %.4f, CIDEr %.4f", epoch, scores["BLEU-4"], scores["CIDEr"])
    log.info("epoch %d: train loss %.4f, val loss %.4f (%.0f s)", epoch, train_loss, val_loss,
             time.perf_counter() - started)
    if epoch % args.save_every == 0 or last or early_stopped(args, state):
        write_model_folder(epoch_folder(output, epoch), model, processor, config, metrics, trainer.checkpoint_state())
        prune_checkpoints(output, args.keep_checkpoints)
