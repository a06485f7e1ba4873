"""The parts of one training run and the steps between them: loaders, the optimizer step, validation loss,
captioning the val split, and what a checkpoint keeps to resume exactly.

Made for a long GPU run as much as for the CPU tests: losses stay on the device and are read back once per
--log-every optimizer steps (never a sync per micro-batch), the DataLoaders and their worker processes live
for the whole run (persistent, pinned memory on a GPU), and the val split is captioned in bf16/fp16 autocast
with batched beam search.

Under torchrun (`distributed.py`) each process trains on its shard of every batch through DistributedDataParallel;
each rank's loss is weighted by its share of the batch's target tokens, so the averaged gradient is the one a
single process with the whole batch computes. Validation loss and captioning are split over the ranks too, and
their sums and captions gathered, so the figures are a single process's.
"""

import argparse
import logging
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass

import torch
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from captionbot.blip.devices import pick_dtype
from captionbot.blip.loading import captioner
from captionbot.blip.recipe import Decoding
from captionbot.training.augment import Augment
from captionbot.training.captioning import caption_pictures
from captionbot.training.checkpoint import restore_rng, rng_state
from captionbot.training.data import DataSet
from captionbot.training.distributed import ALONE, World, accumulating, from_main, merged, total, wrap
from captionbot.training.dataset import (
    IGNORE_INDEX,
    CaptionCollator,
    CaptionPairs,
    EpochSampler,
    PlainPictures,
    picture_reader,
    plain,
)
from captionbot.training.history import History
from captionbot.training.metrics import score
from captionbot.training.picture_plan import cache_folder, plan_for, run_splits, shared_memory_bytes
from captionbot.training.picture_store import open_store
from captionbot.training.schedule import default_warmup, lr_factor, optimizer_steps

log = logging.getLogger(__name__)

GRAD_CLIP = 1.0
VAL_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr")  # METEOR None without Java
MAX_LOADER_WORKERS = 8


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    best_cider: float | None = None
    best_epoch: int | None = None
    evals_since_best: int = 0


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """None for fp32; AMP on a GPU by default (bf16 where supported), never by default on the CPU."""
    dtype = pick_dtype(device, precision)
    return None if dtype == torch.float32 else dtype


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    # Matrices decay; biases and norm weights do not (nanoGPT's split).
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, fused=torch.cuda.is_available() and params[0].is_cuda)


def loader_workers(args: argparse.Namespace, device: torch.device) -> int:
    if args.workers is not None:
        return args.workers
    return 0 if device.type == "cpu" else min(MAX_LOADER_WORKERS, os.cpu_count() or 1)


def loader_context(device: torch.device) -> multiprocessing.context.BaseContext:
    """How loader workers start. On the CPU by fork: quick, and nothing of the parent breaks in a forked child
    (the decoding threads and helper processes are made afresh there, `core/per_process.py`). Beside a GPU by
    forkserver: a forked child would inherit the parent's CUDA context, driver threads and, under torchrun,
    NCCL's, which no child may use; forkserver children start from a clean server that imported the data code
    once. They get the dataset pickled: a disk store as its file's name, the memory store through shared memory."""
    if device.type == "cpu":
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["captionbot.training.dataset", "captionbot.training.picture_store"])
    return context


class Window:
    """Loss and throughput since the last line written to metrics.jsonl; the loss summed on the device."""

    def __init__(self) -> None:
        self.loss_sum: torch.Tensor | float = 0.0
        self.batches, self.pairs, self.started = 0, 0, time.perf_counter()

    def add(self, loss: torch.Tensor, pairs: int) -> None:
        self.loss_sum = self.loss_sum + loss.detach()
        self.batches += 1
        self.pairs += pairs

    def mean_loss(self, world: World = ALONE) -> float:
        loss_sum = total(world, torch.as_tensor(self.loss_sum)) / world.size  # each rank's share of each batch
        return float(loss_sum) / max(1, self.batches)  # the one device sync of the window

    def images_per_s(self, world: World = ALONE) -> float:
        return self.pairs * world.size / max(1e-9, time.perf_counter() - self.started)


class Trainer:
    def __init__(self, args: argparse.Namespace, model, processor, data: DataSet, device: torch.device,
                 world: World = ALONE) -> None:
        self.args, self.model, self.tokenizer, self.device = args, model, processor.tokenizer, device
        self.world = world
        self.trained = wrap(model, world, device)  # what the training step calls: DDP under torchrun
        self.data = data
        self.dtype = autocast_dtype(args.precision, device)
        # The model as validation captions with it: the prompt it trains on, in the run's mixed precision.
        self.captioner = captioner("training", "training", model, processor, Decoding(prompt=args.prompt), device,
                                   autocast=self.dtype)
        train, val = data.splits["train"], data.splits["val"]
        self.spec = spec = self.captioner.spec
        threads = os.cpu_count() or 1
        # The pictures, decoded once into memory or a memory-mapped file, or per access (picture_plan.py). The
        # val split, and the train split without augmentation, go through blip/pixels.py exactly as serving does.
        splits = run_splits(data, spec.size, args.augment)
        # Beside a GPU, loader workers start by forkserver and receive the memory store through /dev/shm.
        shared = shared_memory_bytes() if device.type != "cpu" and loader_workers(args, device) else None
        self.picture_plan = plan_for(args.picture_store, splits.values(), cache_folder(data.root, args.picture_dir),
                                     shared)
        train_store, val_store = (open_store(self.picture_plan, split, picture_reader(split, spec), threads)
                                  for split in (splits["train"], splits["val"]))
        log.info(self.picture_plan.describe())
        train_transform = Augment(spec) if args.augment else plain(spec)
        self.train_pairs = CaptionPairs(train, train_store, train_transform, args.seed)
        self.val_pairs = CaptionPairs(val, val_store, plain(spec), args.seed)
        self.val_pictures = PlainPictures(val_store, plain(spec))
        self.val_references = {e.image: list(e.captions) for e in val}
        bos = model.config.text_config.bos_token_id
        self.collator = CaptionCollator(self.tokenizer, bos, args.max_tokens, args.prompt)
        shard = dict(rank=world.rank, replicas=world.size)
        self.train_sampler = EpochSampler(len(self.train_pairs), 1, args.seed, shuffle=True, **shard)
        self.train_loader = self.loader(self.train_pairs, self.train_sampler)
        self.val_loader = self.loader(self.val_pairs, EpochSampler(len(self.val_pairs), 0, args.seed, shuffle=False,
                                                                   even=False, **shard))
        # Optimizer, then the schedule: stepped per optimizer step (not micro-batch).
        self.steps_per_epoch, self.total_steps = optimizer_steps(len(self.train_loader), args.grad_accum, args.epochs,
                                                                 args.max_steps)
        if args.warmup_steps is None:
            args.warmup_steps = default_warmup(self.total_steps)
        self.optimizer = make_optimizer(model, args.lr, args.weight_decay)
        self.scheduler = LambdaLR(self.optimizer, self.lr_factor)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.dtype == torch.float16)
        self.state = TrainState()

    def lr_factor(self, step: int) -> float:
        return lr_factor(step, warmup_steps=self.args.warmup_steps, total_steps=self.total_steps)

    def loader(self, pairs: CaptionPairs, sampler: EpochSampler) -> DataLoader:
        workers = loader_workers(self.args, self.device)
        if workers:
            # The collator tokenizes in forked workers: the Rust tokenizer's own threads must stay off.
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        return DataLoader(pairs, batch_size=self.args.batch_size, sampler=sampler, collate_fn=self.collator,
                          num_workers=workers, pin_memory=self.device.type == "cuda",
                          persistent_workers=workers > 0, prefetch_factor=4 if workers else None,
                          multiprocessing_context=loader_context(self.device) if workers else None)

    def on_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {key: value.to(self.device, non_blocking=True) for key, value in batch.items()}

    def loss(self, batch: dict[str, torch.Tensor], model: torch.nn.Module | None = None) -> torch.Tensor:
        batch = self.on_device(batch)
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None):
            return (model or self.model)(**batch).loss  # mean over the batch's target tokens

    def share(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | float:
        """This rank's weight in the batch's mean loss: its target tokens over the mean per rank (1 alone).
        DDP averages the ranks' gradients, so the weighted means average to the mean over all the tokens.
        Counted on the device, from the batch already there: no wait for the GPU."""
        if not self.world.distributed:
            return 1.0
        tokens = target_tokens(batch)
        return tokens * self.world.size / total(self.world, tokens).clamp(min=1)

    def train_epoch(self, epoch: int, history: History) -> float:
        """One pass over the shuffled training pairs (or up to --max-steps); the epoch's mean loss."""
        args, model = self.args, self.model
        model.train()
        if args.freeze_vision:
            model.vision_model.eval()
        self.train_sampler.epoch = epoch
        batches, epoch_loss, window = len(self.train_loader), Window(), Window()
        bar = tqdm(total=batches, desc=f"epoch {epoch}/{args.epochs}", unit="batch", disable=None, leave=False)
        for index, batch in enumerate(self.train_loader):
            # The last optimizer step of an epoch may gather fewer micro-batches: average over those.
            group = min(args.grad_accum, batches - index // args.grad_accum * args.grad_accum)
            final = (index + 1) % args.grad_accum == 0 or index + 1 == batches
            batch = self.on_device(batch)
            with accumulating(self.trained, final):
                loss = self.loss(batch, self.trained) * self.share(batch)
                self.scaler.scale(loss / group).backward()
            epoch_loss.add(loss, len(batch["input_ids"]))
            window.add(loss, len(batch["input_ids"]))
            bar.update()
            if not final:
                continue
            lr = self.scheduler.get_last_lr()[0]  # the rate this step uses
            self.optimizer_step()
            if self.state.step % args.log_every == 0:
                loss_now, images_per_s = window.mean_loss(self.world), window.images_per_s(self.world)
                history.append("train", epoch=epoch, step=self.state.step, loss=loss_now, lr=lr,
                               images_per_s=images_per_s)
                bar.set_postfix(loss=f"{loss_now:.3f}", img_s=f"{images_per_s:.0f}")
                window = Window()
            if self.state.step >= self.total_steps:
                break
        bar.close()
        return epoch_loss.mean_loss(self.world)

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
        """Token-weighted cross-entropy of the val captions (the prompt is not scored), without label smoothing,
        without augmentation; summed on the device, read back once."""
        decoder = self.model.text_decoder
        smoothing, decoder.label_smoothing = decoder.label_smoothing, 0.0
        self.model.eval()
        try:
            loss_sum, tokens = torch.zeros((), device=self.device), torch.zeros((), device=self.device)
            for batch in self.val_loader:  # this rank's share of the val pairs
                count = target_tokens(batch)  # counted on the CPU copy
                loss_sum += self.loss(batch).float() * count
                tokens += count
            return float(total(self.world, loss_sum)) / max(1, float(total(self.world, tokens)))
        finally:
            decoder.label_smoothing = smoothing

    def score_val(self) -> dict[str, float]:
        """Each rank captions its share of the val images; rank 0 scores them all and tells the others."""
        images, world = list(self.val_references), self.world
        mine = range(world.rank, len(images), world.size)
        captions = caption_pictures(self.captioner, Subset(self.val_pictures, mine), self.args.batch_size * 2)
        by_image = merged(world, {images[i]: caption for i, caption in zip(mine, captions)})
        return from_main(world, lambda: score(self.val_references, {i: by_image[i] for i in images}, VAL_METRICS))

    def checkpoint_state(self) -> dict:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "state": asdict(self.state),
            "rng": rng_state(),
        }

    def restore(self, saved: dict) -> None:
        """Continue from a checkpoint; with a longer run than it was made for, the schedule over the new total."""
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scaler.load_state_dict(saved["scaler"])
        self.state = TrainState(**saved["state"])
        restore_rng(saved["rng"])
        # The schedule is a function of the step and this run's total: rebuilt at the step reached, it sets the
        # rate of the next step (the saved one's, unless --epochs or --max-steps moved the end).
        self.scheduler = LambdaLR(self.optimizer, self.lr_factor, last_epoch=self.state.step - 1)


def target_tokens(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The caption tokens a batch's loss is the mean over (the model predicts from the second on)."""
    return (batch["labels"][:, 1:] != IGNORE_INDEX).sum()
