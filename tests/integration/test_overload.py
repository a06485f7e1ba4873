"""Sustained overload on a real worker: offered four times what it was just measured to serve, for ten job
timeouts, the service keeps answering. The shape is asserted, not the speed (bench/overload.py prints the
figures): the broker's list stays within the cap plus the worker's threads, the senders beyond capacity are
told "busy" rather than left to time out, captions keep coming in the second half, and at most one batch's
worth of jobs is stored after their senders' deadlines (computed for someone who had given up; judged by the
stored result's time, not by when the loaded test process got round to reading it)."""

import asyncio
import collections
import uuid

import redis

from captionbot.core.queue import CaptionQueue
from tests.fixtures.overload import ListWatch, answered_per_second, captioned_after_giving_up, closed_loop, open_loop
from tests.fixtures.services import WorkerProcess, service_env, settings_from
from tests.integration.test_queue import png

CONCURRENCY = 8  # WorkerProcess's threads
TIMEOUT_S = 2.0
CAP = 100  # deeper than one timeout's worth of work, as QUEUE_MAX_DEPTH's default is for a CPU worker


def test_four_times_capacity_for_ten_timeouts_keeps_answering(service_values, tmp_path):
    values = {
        **service_values,
        "QUEUE_NAME": f"overload-{uuid.uuid4().hex[:8]}",
        "JOB_TIMEOUT_S": str(TIMEOUT_S),
        "QUEUE_MAX_DEPTH": str(CAP),
        "BATCH_MAX_SIZE": str(CONCURRENCY),
        "USER_RATE_PER_MINUTE": "100000",
    }
    settings = settings_from(values)
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    worker = WorkerProcess(settings, service_env(values), tmp_path / "worker.log").start()

    async def scenario():
        queue = CaptionQueue(settings)
        try:
            calibration = await closed_loop(queue, png(), 2 * CONCURRENCY, 3.0)
            capacity = answered_per_second(calibration, 1.0, 3.0)
            with ListWatch(client, settings.queue_name) as watch:
                outcomes = await open_loop(queue, png(), 4 * capacity, 10 * TIMEOUT_S)
            return capacity, outcomes, watch.longest, captioned_after_giving_up(queue, outcomes)
        finally:
            await queue.aclose()

    try:
        capacity, outcomes, longest, wasted = asyncio.run(scenario())
    finally:
        worker.stop()
    counts = collections.Counter(o.status for o in outcomes)
    assert capacity > 0 and set(counts) <= {"ok", "busy", "expired", "timed_out"}, counts
    assert longest <= CAP + CONCURRENCY
    assert counts["busy"] > counts["timed_out"], counts
    assert answered_per_second(outcomes, 5 * TIMEOUT_S, 10 * TIMEOUT_S) > 0
    assert wasted <= CONCURRENCY, f"{wasted} jobs captioned after their senders' deadlines"
