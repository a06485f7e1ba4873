"""Naive pipeline against ours, on one machine in one run: latency p50/p95, images/s and peak memory at
several concurrencies, for single captions, variations and compare. Prints a table of ratios.

    .venv/bin/python bench/throughput.py                      # CPU: BLIP-base shape, random weights
    .venv/bin/python bench/throughput.py --device cuda        # GPU: bf16 where supported
    .venv/bin/python bench/throughput.py --concurrency 1 8 32 --requests 64 --workloads single variations compare

Ours is the worker's CaptionEngine (fast image path, dynamic batching, variations in one pass), called
in-process from as many threads as the concurrency, as Celery's threads pool calls it.
"""

import argparse
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import base_checkpoint, percentile, sample_jpeg  # noqa: E402
from naive import NaivePipeline  # noqa: E402

from captionbot.core.jobs import MODEL_NAMES, Job, Mode, Options  # noqa: E402
from captionbot.core.settings import Settings  # noqa: E402
from captionbot.blip.devices import pick_dtype  # noqa: E402
from captionbot.worker.startup import build_engine  # noqa: E402


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_load(call, concurrency: int, requests: int) -> dict:
    latencies, lock = [], threading.Lock()

    def one(_):
        started = time.perf_counter()
        call()
        with lock:
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(requests)))
    elapsed = time.perf_counter() - started
    return {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "ips": requests / elapsed}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model", type=Path, help="checkpoint folder (default: BLIP-base shape, random weights)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--requests", type=int, default=8, help="requests per measurement")
    parser.add_argument("--workloads", nargs="+", default=["single", "variations", "compare"])
    parser.add_argument("--max-words", type=int, default=20)
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    dtype = pick_dtype(device)
    checkpoint = str(args.model or base_checkpoint())
    image = sample_jpeg(1024)
    settings = Settings(pretrained_model=checkpoint, finetuned_model=checkpoint, device=args.device, batch_max_size=32, _env_file=None)

    naive = NaivePipeline(checkpoint, checkpoint, device, dtype)
    engine = build_engine(settings)
    options = Options(max_words=args.max_words)
    jobs = {
        "single": lambda: Job(image=image, options=options),
        "variations": lambda: Job(image=image, mode=Mode.variations, options=options),
        "compare": lambda: Job(image=image, models=MODEL_NAMES, options=options),
    }
    naive_calls = {
        "single": lambda: naive.caption(image, max_words=args.max_words),
        "variations": lambda: naive.caption(image, "variations", max_words=args.max_words),
        "compare": lambda: naive.caption(image, compare=True, max_words=args.max_words),
    }
    naive_calls["single"]()  # warm-up both
    engine.run(jobs["single"]()).raise_for_error()

    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}), dtype {dtype}, {args.requests} requests each")
    print(f"{'workload':<11}{'conc':>5} | {'naive p50':>10}{'p95':>9}{'img/s':>8} | {'ours p50':>10}{'p95':>9}{'img/s':>8} | {'p50 ratio':>9}{'img/s ×':>9}")
    for workload in args.workloads:
        for concurrency in args.concurrency:
            base = run_load(naive_calls[workload], concurrency, args.requests)
            ours = run_load(lambda: engine.run(jobs[workload]()).raise_for_error(), concurrency, args.requests)
            print(
                f"{workload:<11}{concurrency:>5} | {base['p50']:>8.0f}ms{base['p95']:>7.0f}ms{base['ips']:>8.2f} | "
                f"{ours['p50']:>8.0f}ms{ours['p95']:>7.0f}ms{ours['ips']:>8.2f} | {ours['p50'] / base['p50']:>9.2f}{ours['ips'] / base['ips']:>9.2f}",
                flush=True,
            )
    print(f"peak memory (both pipelines resident, {'GPU allocated' if device.type == 'cuda' else 'process RSS'}): {peak_memory_mb(device):.0f} MiB")
    engine.close()


if __name__ == "__main__":
    main()
