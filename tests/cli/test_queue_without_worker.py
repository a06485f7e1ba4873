"""`caption --queue` where no worker consumes the queue, or Redis does not answer: said at once (one broadcast
timeout), naming the queue and Redis, as the API answers, instead of waiting for the job timeout."""

import uuid

import pytest

from captionbot.cli import main
from tests.cli.conftest import closed_port


@pytest.fixture()
def queue_env(settings_env, redis_url: str) -> str:
    queue = f"nobody-consumes-{uuid.uuid4().hex[:8]}"
    settings_env(REDIS_URL=redis_url, QUEUE_NAME=queue, JOB_TIMEOUT_S=600)  # were a job sent, the test would hang
    return queue


def test_no_worker_on_the_queue_is_said_at_once(queue_env: str, redis_url: str, workdir, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["caption", "--queue", str(workdir / "photo.jpg")])
    _, err = capsys.readouterr()
    assert exited.value.code == 2
    assert err == (f"captionbot caption: error: no worker consumes the queue {queue_env} at Redis at {redis_url}; "
                   "start one with `captionbot worker`, or leave out --queue to caption in-process\n")


def test_redis_not_answering_is_said_without_the_password(queue_env, settings_env, workdir, capsys) -> None:
    settings_env(REDIS_URL=f"redis://:hunter2@127.0.0.1:{closed_port()}/0")
    with pytest.raises(SystemExit) as exited:
        main(["caption", "--queue", str(workdir / "photo.jpg")])
    _, err = capsys.readouterr()
    assert exited.value.code == 2 and "hunter2" not in err
    assert err.startswith("captionbot caption: error: Redis at redis://:**@127.0.0.1:") and "cannot be reached" in err
