"""Settings for the Slack tests: the session's real worker, a queue no worker listens on, a worker without a
fine-tuned model."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from captionbot.core.settings import Settings
from tests.fixtures.services import WorkerProcess, service_env, settings_from


@pytest.fixture
def idle_settings(redis_url: str) -> Iterator[Settings]:
    """A queue no worker listens on, and a short job timeout: jobs sent here time out. The jobs left on the
    queue are removed afterwards."""
    queue = f"slack-idle-{uuid.uuid4().hex[:8]}"
    yield Settings(redis_url=redis_url, queue_name=queue, job_timeout_s=1.5, _env_file=None)
    store = redis.Redis.from_url(redis_url)
    for key in store.scan_iter(match=f"*{queue}*"):
        store.delete(key)


@pytest.fixture(scope="module")
def pretrained_only_worker(
    service_values: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """A real worker with an empty registry: it serves the pretrained model, and answers fine-tuned requests
    `model_unavailable`."""
    empty_registry: Path = tmp_path_factory.mktemp("empty-registry")
    values = {
        **service_values,
        "QUEUE_NAME": f"slack-pretrained-only-{uuid.uuid4().hex[:8]}",
        "MODEL_DIR": str(empty_registry),
    }
    process = WorkerProcess(
        settings_from(values), service_env(values), tmp_path_factory.mktemp("pretrained-only") / "worker.log"
    )
    yield process.start()
    process.stop()
