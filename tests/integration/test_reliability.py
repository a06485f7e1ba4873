"""No job lost: a worker killed mid-job, a Redis restart, a job delivered twice, a pickle on the queue."""

import asyncio
import pickle
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis

from captionbot.core.celery_config import make_celery
from captionbot.core.errors import ServiceUnavailable, TimedOut
from captionbot.core.jobs import TASK_NAME, Job
from captionbot.core.queue import CaptionQueue
from tests.fixtures.services import WorkerProcess, service_env, settings_from
from tests.integration.test_queue import png


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_worker_killed_mid_job_leaves_every_job_to_the_next_worker(service_values, tmp_path):
    values = {**service_values, "QUEUE_NAME": f"kill-{uuid.uuid4().hex[:8]}", "VISIBILITY_TIMEOUT_S": "5", "JOB_TIMEOUT_S": "120"}
    settings = settings_from(values)
    # The first worker holds jobs in its batcher for 30 s: they are received, unacknowledged, in flight.
    holding = WorkerProcess(settings, service_env({**values, "BATCH_MAX_WAIT_MS": "30000", "BATCH_MAX_SIZE": "64"}), tmp_path / "a.log")
    holding.start()
    jobs = [Job(image=png((i * 30, 20, 200))) for i in range(6)]

    async def scenario():
        queue = CaptionQueue(settings)
        try:
            pending = [asyncio.create_task(queue.caption(job)) for job in jobs]
            while holding.log_text().count("received") < len(jobs):
                await asyncio.sleep(0.1)
            holding.stop(signal.SIGKILL)
            successor = WorkerProcess(settings, service_env(values), tmp_path / "b.log").start()
            try:
                results = await asyncio.gather(*pending)
                await asyncio.sleep(1)  # the worker logs "succeeded" just after it stores the result
                return results, successor.log_text()
            finally:
                successor.stop()
        finally:
            await queue.aclose()

    results, successor_log = asyncio.run(scenario())
    assert [r.job_id for r in results] == [j.job_id for j in jobs]
    assert all(r.error is None and r.worker != holding.name for r in results)
    for job in jobs:
        assert successor_log.count(f"Task {TASK_NAME}[{job.job_id}] succeeded") == 1


def test_a_job_delivered_again_after_it_was_answered_is_not_captioned_twice(worker):
    job = Job(image=png())
    queue = CaptionQueue(worker.settings)
    first = queue.caption_sync(job, timeout=60)
    again = queue.caption_sync(job, timeout=60)
    assert again.results["finetuned"].captions == first.results["finetuned"].captions
    deadline = time.monotonic() + 10
    while f"job {job.job_id} was already answered" not in worker.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"job {job.job_id} was already answered" in worker.log_text()


class Marker:
    """Unpickling this would create a file: proof that a pickle was (never) deserialized."""

    path = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_a_pickle_message_is_refused_and_nothing_runs(worker, tmp_path):
    marker = Marker()
    Marker.path = str(tmp_path / "unpickled")
    app = make_celery(worker.settings)
    with app.connection_for_write() as connection:
        producer = connection.Producer(serializer="pickle")
        task_id = uuid.uuid4().hex
        producer.publish(
            pickle.dumps(((marker,), {}, {})),
            routing_key=worker.settings.queue_name,
            content_type="application/x-python-serialize",
            content_encoding="binary",
            headers={"task": TASK_NAME, "id": task_id, "lang": "py", "argsrepr": "", "kwargsrepr": ""},
            serializer=None,
        )
    deadline = time.monotonic() + 20
    while "ContentDisallowed" not in worker.log_text() and "disallowed" not in worker.log_text().lower():
        assert time.monotonic() < deadline, "the worker never reported the refused message"
        time.sleep(0.2)
    assert not (tmp_path / "unpickled").exists()
    assert CaptionQueue(worker.settings).caption_sync(Job(image=png()), timeout=60).error is None


@pytest.fixture()
def own_redis(tmp_path):
    """A password-protected redis-server of this test's own, on its own port, that the test can restart."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port, password = free_port(), f"pw-{uuid.uuid4().hex}"
    command = [server, "--port", str(port), "--requirepass", password, "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]

    class Server:
        url = f"redis://:{password}@127.0.0.1:{port}/0"

        def start(self):
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            for _ in range(100):
                try:
                    redis.Redis.from_url(self.url).ping()
                    return self
                except redis.ConnectionError:
                    time.sleep(0.05)
            raise RuntimeError("redis-server did not start")

        def stop(self):
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    server_ = Server().start()
    server_.password = password
    yield server_
    server_.stop()


def test_bots_and_workers_live_through_a_redis_restart(own_redis, service_values, tmp_path):
    values = {**service_values, "REDIS_URL": own_redis.url, "QUEUE_NAME": "outage", "JOB_TIMEOUT_S": "20"}
    settings = settings_from(values)
    worker = WorkerProcess(settings, service_env(values), tmp_path / "worker.log").start()

    async def scenario():
        queue = CaptionQueue(settings)  # one long-lived client, as a bot holds
        try:
            before = await queue.caption(Job(image=png()))
            own_redis.stop()
            started = time.monotonic()
            with pytest.raises(ServiceUnavailable) as outage:
                await queue.caption(Job(image=png()))
            refused_in = time.monotonic() - started
            own_redis.start()
            after, deadline = None, time.monotonic() + 60
            while after is None and time.monotonic() < deadline:  # the worker reconnects on its own
                try:
                    after = await queue.caption(Job(image=png()), timeout=10)
                except (ServiceUnavailable, TimedOut):
                    await asyncio.sleep(1)
            return before, outage.value, refused_in, after
        finally:
            await queue.aclose()

    try:
        before, outage, refused_in, after = asyncio.run(scenario())
    finally:
        worker.stop()
    assert before.error is None
    assert "try again" in outage.message and refused_in < settings.job_timeout_s
    assert after is not None and after.error is None
    assert own_redis.password not in worker.log_text()


def test_no_secret_reaches_a_log_in_a_full_run(own_redis, service_values, tmp_path):
    """Worker, caption CLI through the queue, models and reload, all at debug level, with a password in the
    Redis URL and bot tokens in the environment: none of them is printed."""
    import sys

    secrets = {"DISCORD_TOKEN": f"discord-{uuid.uuid4().hex}", "SLACK_BOT_TOKEN": f"xoxb-{uuid.uuid4().hex}", "SLACK_SIGNING_SECRET": uuid.uuid4().hex}
    values = {**service_values, "REDIS_URL": own_redis.url, "QUEUE_NAME": "secrets"}
    env = {**service_env(values), **secrets}
    worker = WorkerProcess(settings_from(values), env, tmp_path / "worker.log")
    worker.process_args = ["--loglevel", "DEBUG"]
    worker.start()
    image = tmp_path / "red.png"
    image.write_bytes(png())
    try:
        outputs = [
            subprocess.run([sys.executable, "-m", "captionbot", "-v", *args], env=env, capture_output=True, text=True, timeout=120)
            for args in (["caption", "--queue", "--json", str(image)], ["models"], ["reload", "v1"])
        ]
    finally:
        worker.stop()
    assert outputs[0].returncode == 0, outputs[0].stderr
    logs = worker.log_text() + "".join(o.stdout + o.stderr for o in outputs)
    for secret in (own_redis.password, *secrets.values()):
        assert secret not in logs
