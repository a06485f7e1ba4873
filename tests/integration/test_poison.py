"""Messages on the job queue that are not jobs, published raw (with kombu, or straight into Redis, as anyone
holding the Redis credentials can): each is acknowledged and dropped with one log line saying why, kept on the
dead-letter list and counted; the worker goes on serving, and a worker started after them finds nothing that
stops it. A consumer that keeps losing its connection makes /healthz fail."""

import base64
import json
import re
import time
import uuid

import redis

from captionbot.core.celery_config import make_celery
from captionbot.core.jobs import TASK_NAME, Job
from captionbot.core.queue import CaptionQueue
from captionbot.core.settings import Settings
from captionbot.worker.poison import DEAD_LETTER_KEEP, dead_letter_key
from tests.fixtures.services import WorkerProcess, service_env, settings_from
from tests.integration.test_health import get, health_until
from tests.integration.test_metrics import scrape
from tests.integration.test_queue import png
from tests.integration.test_reliability import free_port, own_redis  # noqa: F401 - a fixture

WAIT_S = 120
JOB_BODY = [[{"image": "aGk="}], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]


def headers(**changes: object) -> dict:
    """Celery's protocol-2 headers for our task, with `changes` (None removes a header)."""
    base = {"lang": "py", "task": TASK_NAME, "id": uuid.uuid4().hex, "argsrepr": "", "kwargsrepr": ""}
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def publish(settings: Settings, body: object, header_values: dict, **options: object) -> None:
    app = make_celery(settings)
    with app.connection_for_write() as connection:
        connection.Producer().publish(body, routing_key=settings.queue_name, headers=header_values, **options)


def push_envelope(client: redis.Redis, queue: str, item: str) -> None:
    """An item on the queue's list as kombu's Redis transport keeps one, written without kombu."""
    client.lpush(queue, item)


def envelope(queue: str, **changes: object) -> str:
    body = base64.b64encode(json.dumps(JOB_BODY).encode()).decode()
    properties = {"delivery_tag": uuid.uuid4().hex, "body_encoding": "base64",
                  "delivery_info": {"exchange": "", "routing_key": queue}, "priority": 0, "delivery_mode": 2}
    item = {"body": body, "content-encoding": "utf-8", "content-type": "application/json",
            "headers": headers(), "properties": properties}
    item.update(changes)
    return json.dumps(item)


def publish_poison(settings: Settings, client: redis.Redis) -> dict[str, int]:
    """Every shape of message that used to stop or loop a worker, and more; returns the count by kind."""
    queue = settings.queue_name
    publish(settings, "x", headers(), serializer="json")
    publish(settings, [1], headers(), serializer="json")
    publish(settings, JOB_BODY, headers(id=None), serializer="json")
    publish(settings, JOB_BODY, headers(id="job\n2026-12-04 INFO forged line"), serializer="json")
    publish(settings, JOB_BODY, headers(task="celery.chord_unlock"), serializer="json")
    publish(settings, JOB_BODY, headers(task=None), serializer="json")
    publish(settings, b"{not json", headers(), content_type="application/json", content_encoding="utf-8")
    publish(settings, JOB_BODY[:2] + [{"callbacks": [{"task": "anything"}]}], headers(), serializer="json")
    publish(settings, JOB_BODY, headers(expires="next tuesday"), serializer="json")
    push_envelope(client, queue, "not json at all")
    push_envelope(client, queue, "[1, 2]")
    push_envelope(client, queue, envelope(queue, headers="x"))
    push_envelope(client, queue, envelope(queue, properties={}))
    push_envelope(client, queue, envelope(queue, body="@@@"))
    return {"bad_body": 3, "no_id": 1, "bad_id": 1, "wrong_task": 2, "not_json": 1, "bad_headers": 2,
            "bad_envelope": 4}


def dead_letters(client: redis.Redis, queue: str, count: int) -> list[dict]:
    deadline = time.monotonic() + WAIT_S
    while client.llen(dead_letter_key(queue)) < count:
        assert time.monotonic() < deadline, f"only {client.llen(dead_letter_key(queue))} of {count} dropped"
        time.sleep(0.2)
    return [json.loads(entry) for entry in client.lrange(dead_letter_key(queue), 0, -1)]


def restarts(port: int) -> int:
    samples = scrape(port)["captionbot_consumer_restarts"]
    return int(next(sample.value for sample in samples if sample.name.endswith("_total")))


def lose_connection(client: redis.Redis, port: int, restarts_then: int) -> None:
    """Hang up every connection of the worker until its consumer has restarted `restarts_then` times in all.

    A hang-up can fall while the consumer, waiting to retry, holds no connection, or while it is still setting up
    after "Connected to" (Celery then logs another line): it is counted all the same when it hits a connection, so
    hang up again until the count says it did."""
    deadline = time.monotonic() + WAIT_S
    while restarts(port) < restarts_then:
        assert time.monotonic() < deadline, f"the consumer restarted {restarts(port)} times, not {restarts_then}"
        client.client_kill_filter(_type="normal", skipme=True)
        time.sleep(0.2)


def test_poison_is_dropped_one_line_each_and_the_worker_serves_on(service_values, tmp_path):
    port = free_port()
    values = {**service_values, "QUEUE_NAME": f"poison-{uuid.uuid4().hex[:8]}", "MAX_IMAGE_BYTES": "1024"}
    settings = settings_from(values)
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    expected = publish_poison(settings, client)  # before any worker is up: the next one to start meets all of it
    worker = WorkerProcess(settings, service_env(values), tmp_path / "worker.log")
    worker.process_args = ["--metrics-port", str(port)]
    try:
        worker.start()
        dropped = dead_letters(client, settings.queue_name, sum(expected.values()))
        answered = CaptionQueue(settings).caption_sync(Job(image=png()), timeout=60)
        too_large = CaptionQueue(settings).caption_sync(Job(image=b"\xff" * 100_000), timeout=60)
        publish(settings, "x", headers(), serializer="json")  # again, while it serves
        again = CaptionQueue(settings).caption_sync(Job(image=png()), timeout=60)
        health, metrics = get(port, "/healthz"), scrape(port)
        log = worker.log_text()
    finally:
        worker.stop()
        client.delete(dead_letter_key(settings.queue_name), settings.queue_name)
    assert answered.error is None and again.error is None
    # The size as the body tells it, before anything is decoded: the image's 97.7 KB and a little of the job's JSON.
    assert too_large.error["code"] == "image_too_large"
    assert re.fullmatch(r"That file is 9[78]\.\d KB, over the 1\.0 KB limit; send a smaller image\.", too_large.error["message"])
    kinds = [entry["kind"] for entry in dropped]
    assert {kind: kinds.count(kind) for kind in set(kinds)} == expected
    assert all(entry["reason"] for entry in dropped)
    assert log.count("dropped a message that is not a job") == sum(expected.values()) + 2
    assert "\nforged line" not in log and "'job\\n2026-12-04 INFO forged line' is not 1 to 64" in log
    assert "Unrecoverable error" not in log and "CRITICAL" not in log
    assert client.llen(settings.queue_name) == 0
    assert health[0] == 200 and json.loads(health[1])["checks"]["consumer"] == "ok"
    counted = {s.labels["kind"]: s.value for s in metrics["captionbot_poison_messages"] if s.name.endswith("_total")}
    assert counted == {**expected, "bad_body": 4.0, "too_large": 1.0}


def test_the_dead_letter_list_keeps_only_the_newest(worker):
    client = redis.Redis.from_url(worker.settings.redis_url.get_secret_value())
    key = dead_letter_key(worker.settings.queue_name)
    for _ in range(DEAD_LETTER_KEEP + 5):
        push_envelope(client, worker.settings.queue_name, "[]")
    marker = f"last-{uuid.uuid4().hex}"
    push_envelope(client, worker.settings.queue_name, json.dumps(marker))
    deadline = time.monotonic() + WAIT_S
    while marker not in (client.lindex(key, 0) or b"").decode():
        assert time.monotonic() < deadline, "the last message was never dropped"
        time.sleep(0.2)
    assert client.llen(key) == DEAD_LETTER_KEEP
    client.delete(key)
    assert CaptionQueue(worker.settings).caption_sync(Job(image=png()), timeout=60).error is None


def test_a_consumer_that_keeps_losing_its_connection_fails_healthz(own_redis, service_values, tmp_path):  # noqa: F811
    port = free_port()
    values = {**service_values, "REDIS_URL": own_redis.url, "QUEUE_NAME": "restarts"}
    worker = WorkerProcess(settings_from(values), service_env(values), tmp_path / "worker.log")
    worker.process_args = ["--metrics-port", str(port)]
    worker.start()
    client = redis.Redis.from_url(own_redis.url)
    try:
        assert get(port, "/healthz")[0] == 200
        for restart in range(1, 6):
            lose_connection(client, port, restart)
        code, body = health_until(port, 503)
    finally:
        worker.stop()
    assert code == 503 and body["failing"] == ["consumer"]
    assert body["checks"]["consumer"] == "the job consumer lost its broker connection 5 times in 300 s"
