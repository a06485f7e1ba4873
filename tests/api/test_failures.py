"""The failures a program must be able to tell apart, each from a real app on a real socket: 503 when no
worker or no Redis answers, 504 when the worker does not answer in time, 429 with Retry-After when busy or
rate-limited (per key), and a trusted network served without keys."""

import asyncio
import time
import uuid

import pytest
import redis
import redis.asyncio as aioredis
import requests
from pydantic import SecretStr

from captionbot.api.keys import KeyStore
from captionbot.api.workers import WorkerProbe
from captionbot.core.admission import Admission, admitted_key
from captionbot.core.celery_config import make_celery
from captionbot.core.errors import ServiceUnavailable
from tests.api.conftest import png
from tests.api.servers import bearer, free_port, post_image, serve


def with_values(settings, **values):
    return settings.model_copy(update=values)


def problem(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response.json()


def test_no_worker_on_the_queue_is_503_at_once_and_health_names_it(api_settings, api_key, worker):
    settings = with_values(api_settings, queue_name=f"nobody-{uuid.uuid4().hex[:8]}")
    with serve(settings) as url:
        body = problem(post_image(url, png(), api_key), 503, "service_unavailable")
        health = requests.get(f"{url}/healthz", timeout=10)
    assert body["detail"] == "The caption service cannot be reached right now; please try again shortly."
    assert health.status_code == 503
    checks = health.json()["checks"]
    assert health.json()["status"] == "failing" and checks["redis"]["ok"] is True
    assert checks["workers"]["ok"] is False and "no worker consumes the queue" in checks["workers"]["error"]


def test_a_request_is_refused_without_waiting_for_a_check_and_the_check_it_starts_finds_the_worker(api_settings, worker):
    async def scenario() -> None:
        probe = WorkerProbe(make_celery(api_settings), api_settings.queue_name, interval_s=3600)
        try:
            # Never checked: the refusal comes before any check has finished (a check waits out its broadcast).
            with pytest.raises(ServiceUnavailable):
                await probe.require_worker()
            assert probe.snapshot.checked_at == 0.0
            deadline = time.monotonic() + 60
            while probe.snapshot.checked_at == 0.0 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)  # the check the refusal started, in the background
            assert worker.name in [reply.worker for reply in probe.snapshot.workers]
            await probe.require_worker()
        finally:
            await probe.stop()

    asyncio.run(scenario())


def test_redis_unreachable_is_503_and_health_names_redis(api_settings, api_key):
    settings = with_values(api_settings, redis_url=SecretStr(f"redis://127.0.0.1:{free_port()}/0"))
    with serve(settings) as url:
        problem(post_image(url, png(), api_key), 503, "service_unavailable")
        health = requests.get(f"{url}/healthz", timeout=10)
    assert health.status_code == 503
    checks = health.json()["checks"]
    assert checks["redis"]["ok"] is False and "Redis unreachable" in checks["redis"]["error"]
    assert checks["workers"]["ok"] is False


def test_a_worker_that_does_not_answer_in_time_is_504(api_settings, api_key, worker, request):
    settings = with_values(api_settings, job_timeout_s=2.0, api_worker_probe_s=3600.0)
    with serve(settings) as url:
        request.getfixturevalue("stopped_worker")
        body = problem(post_image(url, png(), api_key), 504, "timed_out")
    assert body["detail"] == "No captioner answered in time; please try again shortly."


async def admit_elsewhere(settings, job_id: str) -> None:
    """Another sender's job waiting for a worker, admitted by a sender whose own cap is not reached."""
    client = aioredis.from_url(settings.redis_url.get_secret_value())
    try:
        await Admission(client, with_values(settings, queue_max_depth=10_000)).admit(job_id, settings.job_timeout_s)
    finally:
        await client.aclose()


def test_a_full_queue_is_429_busy_with_retry_after(api_settings, api_key, worker):
    settings = with_values(api_settings, queue_max_depth=1)
    other_senders_job = f"waiting-{uuid.uuid4().hex}"
    asyncio.run(admit_elsewhere(settings, other_senders_job))
    try:
        with serve(settings) as url:
            response = post_image(url, png(), api_key)
    finally:
        redis.Redis.from_url(settings.redis_url.get_secret_value()).zrem(admitted_key(settings.queue_name), other_senders_job)
    body = problem(response, 429, "busy")
    assert response.headers["retry-after"] == "60"
    assert body["detail"] == "The captioner is busy right now; please try again in a minute."


def test_the_rate_limit_is_per_key_with_retry_after(api_settings, tmp_path, worker):
    store = KeyStore(tmp_path / "keys.json")
    run = uuid.uuid4().hex[:8]  # buckets live in Redis for two minutes: fresh names for every run
    first, second = store.create(f"first-{run}"), store.create(f"second-{run}")
    settings = with_values(api_settings, api_keys_file=store.path, api_rate_per_minute=1)
    with serve(settings) as url:
        assert post_image(url, png(), first).status_code == 200
        limited = post_image(url, png(), first)
        other_key = post_image(url, png(), second)
    body = problem(limited, 429, "rate_limited")
    assert limited.headers["retry-after"] == "60"
    assert body["detail"].startswith("You are sending images faster than the captioner allows; try again in")
    assert other_key.status_code == 200, other_key.text


def test_a_trusted_network_is_served_without_keys_and_says_so(api_settings, worker):
    settings = with_values(api_settings, api_open_on_trusted_network=True)
    with serve(settings) as url:
        open_request = post_image(url, png(), key=None)
        wrong_key = requests.get(f"{url}/v1/models", headers=bearer("cbk_wrong"), timeout=10)
        document = requests.get(f"{url}/openapi.json", timeout=10).json()
    assert open_request.status_code == 200, open_request.text
    assert wrong_key.status_code == 401
    assert {} in document["paths"]["/v1/captions"]["post"]["security"]
