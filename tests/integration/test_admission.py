"""Admission measures the depth instead of counting it, so it cannot drift: a job held by a worker that died
stops counting at its deadline, and the workers' published pace answers "busy" at once when a job would
outwait its sender."""

import asyncio
import time
import uuid

import pytest
import redis

from captionbot.core.admission import Ledger
from captionbot.core.errors import Busy
from captionbot.core.queue import CaptionQueue
from tests.fixtures.services import settings_from


@pytest.fixture()
def settings(service_values):
    return settings_from({**service_values, "QUEUE_NAME": f"admit-{uuid.uuid4().hex[:8]}", "QUEUE_MAX_DEPTH": "50"})


def outcomes(settings, timeout: float, n: int) -> list[str]:
    async def admit_all():
        queue = CaptionQueue(settings)
        admission = queue._parts()[1]
        results = []
        try:
            for _ in range(n):
                job_id = uuid.uuid4().hex
                try:
                    await admission.admit(job_id, timeout)
                    results.append("admitted")
                except Busy:
                    results.append("busy")
            return results, await queue.depth()
        finally:
            await queue.aclose()

    return asyncio.run(admit_all())


def test_a_job_whose_worker_died_stops_counting_at_its_deadline(settings):
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    ledger = Ledger(client, settings.queue_name, "gone@host")
    ledger.hold("held-by-a-dead-worker", deadline=time.time() + 1.0, fallback_s=60)
    ledger.hold("still-running", deadline=time.time() + 60, fallback_s=60)
    assert outcomes(settings, 60, 0)[1] == 2
    time.sleep(1.2)  # past the first job's deadline (not a race: the depth is computed from the deadline)
    assert outcomes(settings, 60, 0)[1] == 1
    ledger.release("still-running")
    assert outcomes(settings, 60, 0)[1] == 0


def test_the_workers_pace_turns_jobs_away_at_once_when_they_would_outwait_their_sender(settings):
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    # One worker that answers a job every 5 s with 2 threads: with a 30 s timeout, a new job fits while
    # (depth + 1 + 2) / 0.2 <= 30, i.e. up to a depth of 3; below 2 (a free thread) it is always admitted.
    Ledger(client, settings.queue_name, "w1@host").publish_pace(0.2, 2)
    results, depth = outcomes(settings, timeout=30.0, n=8)
    assert results == ["admitted"] * 4 + ["busy"] * 4 and depth == 4
    # Without a recent pace only the cap applies.
    client.delete(f"captionbot:paces:{settings.queue_name}")
    results, depth = outcomes(settings, timeout=30.0, n=3)
    assert results == ["admitted"] * 3 and depth == 7
