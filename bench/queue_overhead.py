"""What the queue costs per request: the same caption job in-process and through Redis and a real worker.

    .venv/bin/python bench/queue_overhead.py [--requests 12]

BLIP-base-shaped model (BlipConfig() defaults, random weights). The queue's overhead is measured two ways:
the difference of the two p50 latencies, and per request as round trip minus the worker's own compute time
(which removes the model's run-to-run noise; what remains is the queue, the worker's image decoding and the
result's way back). The client is the bots' asyncio one. Needs Redis at REDIS_URL.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import base_checkpoint, percentile, sample_jpeg, summary  # noqa: E402

from captionbot.commands.worker_process import WorkerProcess  # noqa: E402
from captionbot.core.jobs import Job, Options  # noqa: E402
from captionbot.core.settings import Settings  # noqa: E402


def in_process(settings: Settings, jobs: list[Job]) -> list[float]:
    from captionbot.worker.startup import build_engine

    engine = build_engine(settings)
    engine.run(jobs[0])  # warm-up
    latencies, outside_compute = [], []
    for job in jobs:
        started = time.perf_counter()
        result = engine.run(job).raise_for_error()
        latencies.append((time.perf_counter() - started) * 1000)
        outside_compute.append(latencies[-1] - result.results["finetuned"].ms)  # image decoding, batcher
    engine.close()
    return latencies, outside_compute


def through_queue(settings: Settings, env: dict[str, str], jobs: list[Job]) -> tuple[list[float], list[float]]:
    from captionbot.core.queue import CaptionQueue

    log = Path(tempfile.mkstemp(prefix="bench-worker-", suffix=".log")[1])
    worker = WorkerProcess(env, log, name=f"bench-{uuid.uuid4().hex[:6]}@localhost").start(timeout=600)
    try:
        # The bots' path: one long-lived asyncio client, results awaited on the backend's publish channel.
        loop = asyncio.new_event_loop()
        queue = CaptionQueue(settings)
        fresh = lambda job: job.model_copy(update={"job_id": uuid.uuid4().hex, "submitted_at": time.time()})  # noqa: E731
        loop.run_until_complete(queue.caption(fresh(jobs[0]), timeout=300))  # warm-up
        latencies, overheads = [], []
        for job in jobs:
            started = time.perf_counter()
            result = loop.run_until_complete(queue.caption(fresh(job), timeout=300)).raise_for_error()
            elapsed = (time.perf_counter() - started) * 1000
            latencies.append(elapsed)
            overheads.append(elapsed - result.results["finetuned"].ms)
        loop.run_until_complete(queue.aclose())
        loop.close()
        return latencies, overheads
    finally:
        worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=12)
    args = parser.parse_args()
    checkpoint = base_checkpoint()
    values = {
        "PRETRAINED_MODEL": str(checkpoint),
        "FINETUNED_MODEL": str(checkpoint),
        "QUEUE_NAME": f"bench-{uuid.uuid4().hex[:6]}",
        "DEVICE": os.environ.get("DEVICE", "auto"),
        "BATCH_MAX_WAIT_MS": "0",
    }
    env = {**os.environ, **values, "HF_HUB_OFFLINE": "1"}
    settings = Settings(**{k.lower(): v for k, v in values.items()}, redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), _env_file=None)
    jobs = [Job(image=sample_jpeg(), options=Options(beams=1, max_words=20)) for _ in range(args.requests)]
    local, local_outside = in_process(settings, jobs)
    queued, overheads = through_queue(settings, env, jobs)
    print(f"BLIP-base shape, random weights, greedy, {args.requests} sequential requests")
    print(f"in-process        {summary(local)}")
    print(f"through the queue {summary(queued)}")
    print(f"outside compute (image decoding, batcher, and for the queue its way there and back): "
          f"in-process p50 {percentile(local_outside, 50):.1f} ms, through the queue p50 {percentile(overheads, 50):.1f} ms "
          f"(p95 {percentile(overheads, 95):.1f} ms)")
    print(f"queue overhead p50: {percentile(overheads, 50) - percentile(local_outside, 50):.1f} ms "
          f"(difference of the p50 latencies, model noise included: {percentile(queued, 50) - percentile(local, 50):.0f} ms)")
    print(f"ratio queue/in-process p50: {percentile(queued, 50) / percentile(local, 50):.3f}")


if __name__ == "__main__":
    main()
