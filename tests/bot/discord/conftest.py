"""Settings for bot tests that need Redis but no worker: a queue of their own that nothing consumes."""

import uuid
from collections.abc import Iterator

import pytest
import redis

from captionbot.core.admission import depth_keys
from captionbot.core.settings import Settings


@pytest.fixture()
def idle_settings(redis_url: str) -> Iterator[Settings]:
    """A queue no worker listens on, and a short job timeout; its Redis keys are removed afterwards."""
    queue = f"test-discord-idle-{uuid.uuid4().hex[:8]}"
    yield Settings(redis_url=redis_url, queue_name=queue, job_timeout_s=2.0, user_rate_per_minute=1000, _env_file=None)
    client = redis.Redis.from_url(redis_url)
    client.delete(*depth_keys(queue), *client.scan_iter(match=f"{queue}*"))
    client.close()
