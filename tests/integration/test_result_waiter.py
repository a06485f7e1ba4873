"""The result waiter closes the PubSub an outage broke before it opens the next one: five Redis outages in
a row leave the client's pool with as many connections in use as one."""

import asyncio
import gc
import uuid

import pytest
import redis

from captionbot.core.errors import ServiceUnavailable
from captionbot.core.jobs import Job
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
