"""The result waiter closes the PubSub an outage broke before it opens the next one: five Redis outages in
a row leave the client's pool with as many connections in use as one. A result stored in time but never read
from the channel (a sender's loop behind its messages) still answers its sender when the wait ends."""

import asyncio
import gc
import uuid

import pytest
import redis

from captionbot.core.errors import ServiceUnavailable
from captionbot.core.jobs import Job, JobResult, ModelResult
from captionbot.core.queue import CaptionQueue
from tests.fixtures.services import settings_from
from tests.integration.test_queue import png
from tests.integration.test_reliability import own_redis  # noqa: F401 - a fixture


def test_five_outages_in_a_row_keep_the_pool_bounded(own_redis, service_values):  # noqa: F811
    settings = settings_from({**service_values, "REDIS_URL": own_redis.url, "QUEUE_NAME": f"outages-{uuid.uuid4().hex[:6]}"})
    client = redis.Redis.from_url(own_redis.url)

    async def outage(queue: CaptionQueue) -> int:
        waiting = asyncio.create_task(queue.caption(Job(image=png()), timeout=60))
        while not waiting.done() and client.llen(settings.queue_name) < 1:  # sent: its sender now waits
            await asyncio.sleep(0.05)
        own_redis.stop()
        with pytest.raises(ServiceUnavailable):
            await waiting
        own_redis.start()
        client.delete(settings.queue_name)
        return len(queue._client.connection_pool._in_use_connections)

    async def scenario() -> list[int]:
        queue = CaptionQueue(settings)
        try:
            return [await outage(queue) for _ in range(5)]
        finally:
            await queue.aclose()

    gc.disable()  # a leaked connection must not be handed back by a collection that happens to run
    try:
        in_use = asyncio.run(scenario())
    finally:
        gc.enable()
    assert max(in_use) <= 1, in_use


def test_a_result_stored_in_time_answers_though_the_channel_was_not_read(service_values):
    settings = settings_from({**service_values, "QUEUE_NAME": f"late-reader-{uuid.uuid4().hex[:6]}"})
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    job = Job(image=png())

    async def scenario() -> JobResult:
        queue = CaptionQueue(settings)
        try:
            waiting = asyncio.create_task(queue.caption(job, timeout=1.5))
            while not waiting.done() and client.llen(settings.queue_name) < 1:  # sent: its sender now waits
                await asyncio.sleep(0.05)
            # Stored as the backend stores it, without the publish its reader would have heard.
            backend = queue.app.backend
            answer = JobResult(job_id=job.job_id, results={"pretrained": ModelResult(version="v1", captions=["a cat"], ms=1.0, queue_ms=1.0)})
            meta = {"status": "SUCCESS", "result": answer.model_dump(mode="json"), "task_id": job.job_id}
            client.set(backend.get_key_for_task(job.job_id), backend.encode(meta))
            return await waiting
        finally:
            await queue.aclose()
            client.delete(settings.queue_name)

    result = asyncio.run(scenario())
    assert result.error is None and result.results["pretrained"].captions == ["a cat"]
