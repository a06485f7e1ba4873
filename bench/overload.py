"""Sustained overload: one real worker on a tiny checkpoint, its capacity measured first (closed loop), then
offered a multiple of it (open loop) for many job timeouts. Prints goodput against that capacity, the
longest the broker's list grew, and how many jobs were captioned after their senders had given up.

    .venv/bin/python bench/overload.py                       # 4x for 24 s, JOB_TIMEOUT_S=2, QUEUE_MAX_DEPTH=100
    .venv/bin/python bench/overload.py --factor 4 --timeout 2 --seconds 24 --cap 100

Needs Redis (REDIS_URL, default 127.0.0.1:6379).
"""

import argparse
import asyncio
import collections
import os
import sys
import tempfile
import uuid
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from captionbot.core.queue import CaptionQueue  # noqa: E402
from captionbot.training.scratch import save_random_blip  # noqa: E402
from tests.fixtures.overload import (  # noqa: E402
    ListWatch,
    answered_per_second,
    captioned_after_giving_up,
    closed_loop,
    open_loop,
)
from tests.fixtures.services import WorkerProcess, service_env, settings_from  # noqa: E402
from tests.integration.test_queue import png  # noqa: E402

CONCURRENCY = 8  # the worker's threads (tests/fixtures/services.py starts it so)


async def measure(values: dict[str, str], args: argparse.Namespace) -> None:
    settings = settings_from(values)
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    queue = CaptionQueue(settings)
    image = png()
    try:
        await closed_loop(queue, image, 2 * CONCURRENCY, 2.0)  # warm-up
        calibration = await closed_loop(queue, image, 2 * CONCURRENCY, args.calibrate)
        capacity = answered_per_second(calibration, 1.0, args.calibrate)
        with ListWatch(client, settings.queue_name) as watch:
            outcomes = await open_loop(queue, image, args.factor * capacity, args.seconds)
        wasted = captioned_after_giving_up(queue, outcomes)
    finally:
        await queue.aclose()
    half = args.seconds / 2
    goodput = answered_per_second(outcomes, half, args.seconds)
    counts = collections.Counter(o.status for o in outcomes)
    print(f"capacity (closed loop, {2 * CONCURRENCY} clients): {capacity:.1f} jobs/s")
    print(f"offered {args.factor:g}x = {args.factor * capacity:.1f} jobs/s for {args.seconds:g} s, JOB_TIMEOUT_S={args.timeout:g}, QUEUE_MAX_DEPTH={args.cap}")
    print(f"outcomes: {dict(counts)}")
    print(f"goodput, second half: {goodput:.1f} jobs/s = {goodput / capacity:.0%} of capacity")
    print(f"longest broker list: {watch.longest} (cap {args.cap} + concurrency {CONCURRENCY} = {args.cap + CONCURRENCY})")
    print(f"captioned and stored after the sender's deadline: {wasted} (batch size {CONCURRENCY}); senders told timed out: {counts['timed_out']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factor", type=float, default=4.0, help="offered load, times the measured capacity")
    parser.add_argument("--timeout", type=float, default=2.0, help="JOB_TIMEOUT_S of the senders")
    parser.add_argument("--seconds", type=float, default=24.0, help="length of the overload")
    parser.add_argument("--calibrate", type=float, default=6.0, help="length of the capacity measurement")
    parser.add_argument("--cap", type=int, default=100, help="QUEUE_MAX_DEPTH")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        model = save_random_blip(Path(work) / "tiny", ["a", "red", "circle", "on", "blue"], shape="tiny")
        values = {
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "QUEUE_NAME": f"overload-{uuid.uuid4().hex[:6]}",
            "PRETRAINED_MODEL": str(model),
            "FINETUNED_MODEL": str(model),
            "MODEL_DIR": str(Path(work) / "registry"),
            "DEVICE": os.environ.get("DEVICE", "cpu"),
            "JOB_TIMEOUT_S": str(args.timeout),
            "QUEUE_MAX_DEPTH": str(args.cap),
            "BATCH_MAX_SIZE": str(CONCURRENCY),
            "USER_RATE_PER_MINUTE": "100000",
            "HF_HUB_OFFLINE": "1",
        }
        worker = WorkerProcess(settings_from(values), service_env(values), Path(work) / "worker.log").start()
        try:
            asyncio.run(measure(values, args))
        finally:
            worker.stop()


if __name__ == "__main__":
    main()
