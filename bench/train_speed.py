"""Training throughput by picture store: decoded once and kept in memory, decoded once into a memory-mapped
file on disk, or JPEGs decoded on every step; and the validation's captioning speed (batched beam search, in
the run's precision).

    .venv/bin/python bench/train_speed.py                                  # CPU, tiny BLIP (the default)
    .venv/bin/python bench/train_speed.py --shape base --device cuda --precision bf16 --workers 8

Every store's run uses the training loop's own parts (`captionbot.training.trainer.Trainer`: its persistent
data loader, augmentation, forward, backward, clipped AdamW step) on the synthetic shapes set written as
500x375 JPEGs, Flickr8k's usual size. Each mode runs `--rounds` times, alternating, after a warm-up; the median
images/s is reported (other processes on a shared machine make single runs noisy), with its ratio to the
memory store's. The stores' one-off decode time is reported apart: the memory store pays it once per run, the
disk store once per data set and size, the per-step decoding on every epoch. Evaluation images/s is
`Trainer.score_val`'s captioning (BLIP's prompt, 3 beams, 5 to 20 tokens, `--eval-batch` images a call).
"""

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from captionbot.blip.devices import pick_device
from captionbot.blip.loading import load_pretrained
from captionbot.core.settings import BLIP_PROMPT
from captionbot.training import train
from captionbot.training.captioning import caption_pictures
from captionbot.training.data import load_data
from captionbot.training.scratch import caption_words, save_random_blip
from captionbot.training.synthetic import generate
from captionbot.training.trainer import Trainer


STORES = ("memory", "disk", "decode")


def build_trainer(data_dir: Path, model_dir: Path, store: str,
                  args: argparse.Namespace) -> tuple[Trainer, float]:
    """A Trainer as `captionbot train` builds it; and the seconds its picture stores took to fill."""
    flags = ["--data", str(data_dir), "--output", str(model_dir.parent / "unused"), "--lr", "1e-4",
             "--batch-size", str(args.batch_size), "--device", args.device, "--precision", args.precision,
             "--picture-store", store]
    if args.workers is not None:
        flags += ["--workers", str(args.workers)]
    options = train.parse_args(flags)
    device = pick_device(options.device)
    model, processor = load_pretrained(model_dir)
    started = time.perf_counter()
    trainer = Trainer(options, model.to(device), processor, load_data(data_dir), device)
    return trainer, time.perf_counter() - started


def endless_batches(trainer: Trainer) -> Iterator[dict[str, torch.Tensor]]:
    for epoch in itertools.count(1):
        trainer.train_sampler.epoch = epoch
        yield from trainer.train_loader


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def images_per_second(trainer: Trainer, steps: int, warmup: int = 3) -> float:
    """Pairs per second over `steps` optimizer steps (one micro-batch each), data loading included."""
    trainer.model.train()
    batches = endless_batches(trainer)
    pairs, started = 0, 0.0
    for step in range(warmup + steps):
        if step == warmup:
            sync(trainer.device)
            pairs, started = 0, time.perf_counter()
        batch = next(batches)
        trainer.scaler.scale(trainer.loss(batch)).backward()
        trainer.optimizer_step()
        pairs += len(batch["input_ids"])
    sync(trainer.device)
    return pairs / (time.perf_counter() - started)


def store_images_per_second(trainer: Trainer) -> float:
    """The train split's pictures read from the store once, in this process: the store alone, no model."""
    store = trainer.train_pairs.store
    started = time.perf_counter()
    for index in range(len(store)):
        store[index]
    return len(store) / (time.perf_counter() - started)


def eval_images_per_second(trainer: Trainer, batch_size: int) -> float:
    """The val split captioned as `Trainer.score_val` does, after one warm-up batch."""
    pictures = trainer.val_pictures
    caption_pictures(trainer.captioner, [pictures[0]] * batch_size, batch_size)
    sync(trainer.device)
    started = time.perf_counter()
    caption_pictures(trainer.captioner, pictures, batch_size)
    sync(trainer.device)
    return len(pictures) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("tiny", "base"), default="tiny", help="random-weight BLIP shape")
    parser.add_argument("--images", type=int, default=320, help="synthetic pictures (default: 320)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round (default: 30)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per mode, alternating (default: 3)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    parser.add_argument("--workers", type=int, help="data loader processes (default: the trainer's)")
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES),
                        help="picture stores to time, the first the baseline of the ratios (default: all three)")
    parser.add_argument("--eval-batch", type=int, default=64, help="images per beam search call (default: 64)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="train-speed.") as work:
        data_dir = generate(Path(work) / "data", args.images, size=(500, 375))
        model_dir = save_random_blip(Path(work) / "model", caption_words([BLIP_PROMPT]), shape=args.shape)
        built = {store: build_trainer(data_dir, model_dir, store, args) for store in args.stores}
        trainers = {store: trainer for store, (trainer, _) in built.items()}
        rates: dict[str, list[float]] = {store: [] for store in args.stores}
        reads: dict[str, list[float]] = {store: [] for store in args.stores}
        for _ in range(args.rounds):
            for store, trainer in trainers.items():
                rates[store].append(images_per_second(trainer, args.steps))
                reads[store].append(store_images_per_second(trainer))
        baseline = args.stores[0]
        eval_rate = eval_images_per_second(trainers[baseline], args.eval_batch)

    medians = {store: statistics.median(values) for store, values in rates.items()}
    read_medians = {store: statistics.median(values) for store, values in reads.items()}
    first = trainers[baseline]
    print(f"BLIP {args.shape}, {first.device}, precision {args.precision}, batch {args.batch_size}, "
          f"500x375 JPEGs -> {first.spec.size}px, {torch.get_num_threads()} torch threads, "
          f"{first.train_loader.num_workers} loader workers")
    for store, values in rates.items():
        runs = " ".join(f"{v:.0f}" for v in values)
        print(f"  {store:<7} training {medians[store]:8.1f} pairs/s  {medians[store] / medians[baseline]:5.2f}x "
              f"{baseline}  (rounds: {runs});  reading the store alone {read_medians[store]:8.0f} images/s "
              f"{read_medians[store] / read_medians[baseline]:6.3f}x")
    decoded = len(first.train_pairs.store) + len(first.val_pictures)
    for store in [store for store in ("memory", "disk") if store in args.stores]:
        print(f"  one-off decode into the {store} store: {built[store][1]:.1f} s for {decoded} images")
    print(f"  evaluation (val split, {len(first.val_pictures)} images, batches of {args.eval_batch}, 3 beams): "
          f"{eval_rate:.1f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
