"""Bounded load: a queue-depth cap answers "busy" beyond it; a per-user token bucket in Redis."""

import asyncio
import uuid

import pytest
import redis

from captionbot.core.errors import Busy, RateLimited
from captionbot.core.jobs import Job
from captionbot.core.queue import CaptionQueue
from tests.fixtures.services import WorkerProcess, service_env, settings_from
from tests.integration.test_queue import png


@pytest.fixture()
def capped_values(service_values):
    return {**service_values, "QUEUE_NAME": f"burst-{uuid.uuid4().hex[:8]}", "QUEUE_MAX_DEPTH": "100", "JOB_TIMEOUT_S": "180"}


def test_a_burst_of_500_at_a_cap_of_100_answers_100_and_tells_400_busy(capped_values, tmp_path):
    settings = settings_from(capped_values)
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    image = png()
    baseline = client.info("memory")["used_memory"]

    async def burst():
        queue = CaptionQueue(settings)
        jobs = [asyncio.create_task(queue.caption(Job(image=image))) for _ in range(500)]
        try:
            await asyncio.sleep(0)
            while client.llen(settings.queue_name) < 100:  # every admitted job is on the queue
                await asyncio.sleep(0.05)
            assert await queue.depth() == 100
            worker = WorkerProcess(settings, service_env(capped_values), tmp_path / "worker.log").start()
            try:
                return await asyncio.gather(*jobs, return_exceptions=True)
            finally:
                worker.stop()
        finally:
            await queue.aclose()

    outcomes = asyncio.run(burst())
    answered = [o for o in outcomes if not isinstance(o, Exception)]
    busy = [o for o in outcomes if isinstance(o, Busy)]
    assert len(answered) == 100 and all(o.error is None for o in answered)
    assert len(busy) == 400
    assert "try again in a minute" in busy[0].message
    assert client.llen(settings.queue_name) == 0
    assert asyncio.run(depth_now(settings)) == 0
    # the refused 400 left nothing behind: Redis holds about what it held before (results expire later)
    assert client.info("memory")["used_memory"] - baseline < 8 * 1024 * 1024


async def depth_now(settings):
    queue = CaptionQueue(settings)
    try:
        return await queue.depth()
    finally:
        await queue.aclose()


def test_the_per_user_rate_limit_is_a_token_bucket(service_values):
    settings = settings_from({**service_values, "USER_RATE_PER_MINUTE": "3"})
    user = f"user-{uuid.uuid4().hex[:6]}"

    async def spend(n):
        queue = CaptionQueue(settings)
        try:
            outcomes = []
            for _ in range(n):
                try:
                    await queue.check_user(user)
                    outcomes.append("ok")
                except RateLimited as err:
                    outcomes.append(err.message)
            return outcomes
        finally:
            await queue.aclose()

    first, second, third, fourth = asyncio.run(spend(4))
    assert [first, second, third] == ["ok", "ok", "ok"]
    assert "try again in 20 seconds" in fourth


def test_a_wait_of_one_second_is_said_in_the_singular(service_values):
    # At 60 a minute one token takes a second to refill: the first refusal names a wait of at most that.
    settings = settings_from({**service_values, "USER_RATE_PER_MINUTE": "60"})
    user = f"user-{uuid.uuid4().hex[:6]}"

    async def first_refusal() -> str:
        queue = CaptionQueue(settings)
        try:
            for _ in range(1000):
                try:
                    await queue.check_user(user)
                except RateLimited as err:
                    return err.message
            raise AssertionError("1000 requests at once were never limited")
        finally:
            await queue.aclose()

    assert asyncio.run(first_refusal()).endswith("; try again in 1 second.")
