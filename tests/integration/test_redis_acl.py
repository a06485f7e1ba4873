"""The Redis users docker-compose.yml makes, one per kind of process, tried on the real local Redis (created here
under names of this test's own, deleted after): a worker and a bot on their own users caption a job end to end,
the API's user asks the workers what they serve, and none of them may FLUSHALL, FLUSHDB, CONFIG or KEYS."""

import asyncio
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
import yaml

from captionbot.core.control import worker_status
from captionbot.core.celery_config import make_celery
from captionbot.core.jobs import Job, JobResult
from captionbot.core.queue import CaptionQueue
from tests.fixtures.services import WorkerProcess, service_env, settings_from
from tests.integration.test_queue import png

COMPOSE = Path(__file__).parents[2] / "docker-compose.yml"
REFUSED = (("FLUSHALL",), ("FLUSHDB",), ("CONFIG", "GET", "*"), ("KEYS", "*"))


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def compose_users() -> dict[str, list[str]]:
    """role -> its ACL rules, as the redis service's `--user` arguments give them (password left out)."""
    command = compose()["services"]["redis"]["command"]
    users = [interpolated(command[i + 1]).split() for i, word in enumerate(command) if word == "--user"]
    return {name: [rule for rule in rules if not rule.startswith(">")] for name, *rules in users}


def interpolated(text: str) -> str:
    """Compose's `${VARIABLE:?message}` as a value."""
    return re.sub(r"\$\{[^}]*\}", "value", text)


def login_of(service: dict) -> str:
    return urlsplit(interpolated(service["environment"]["REDIS_URL"])).username


def test_each_process_logs_in_as_its_own_role():
    services, roles = compose()["services"], compose_users()
    assert set(roles) == {"worker", "bot", "api"}
    logins = {name: login_of(s) for name, s in services.items() if "REDIS_URL" in s.get("environment", {})}
    assert logins == {"worker-gpu0": "worker", "worker-gpu1": "worker", "discord": "bot", "slack": "bot", "api": "api"}
    for rules in roles.values():
        assert "-@dangerous" in rules and "on" in rules


@pytest.fixture
def role_urls(redis_url: str) -> Iterator[dict[str, str]]:
    """A user on the local Redis for each role, with compose's rules; their URLs."""
    admin = redis.Redis.from_url(redis_url)
    server = urlsplit(redis_url)
    urls, names = {}, []
    for role, rules in compose_users().items():
        name, password = f"test-{role}-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        admin.acl_setuser(name, reset=True)  # a clean slate, then compose's own rules, word for word
        admin.execute_command("ACL", "SETUSER", name, *rules, f">{password}")
        names.append(name)
        urls[role] = f"redis://{name}:{password}@{server.hostname}:{server.port or 6379}{server.path or '/0'}"
    try:
        yield urls
    finally:
        admin.acl_deluser(*names)
        admin.close()


async def caption_as_a_bot(settings) -> JobResult:
    """As a bot sends a job: the rate-limit token, admission's scripts, the result's channel."""
    queue = CaptionQueue(settings)
    try:
        await queue.check_user("acl-test")
        return await queue.caption(Job(image=png()), timeout=60)
    finally:
        await queue.aclose()


def test_a_worker_and_a_bot_on_their_own_users_caption_and_none_may_flush(role_urls, service_values, tmp_path):
    queue = f"acl-{uuid.uuid4().hex[:8]}"
    worker_values = {**service_values, "QUEUE_NAME": queue, "REDIS_URL": role_urls["worker"]}
    worker = WorkerProcess(settings_from(worker_values), service_env(worker_values), tmp_path / "worker.log")
    worker.start()
    try:
        bot = settings_from({**service_values, "QUEUE_NAME": queue, "REDIS_URL": role_urls["bot"]})
        answered = asyncio.run(caption_as_a_bot(bot))
        api = settings_from({**service_values, "QUEUE_NAME": queue, "REDIS_URL": role_urls["api"]})
        statuses = worker_status(make_celery(api))
    finally:
        worker.stop()
    assert answered.error is None and answered.worker == worker.name
    assert worker.process.returncode == 0  # a warm shutdown
    assert "NOPERM" not in worker.log_text()
    assert worker.name in {reply.worker for reply in statuses}
    for role, url in role_urls.items():
        client = redis.Redis.from_url(url)
        for command in REFUSED:
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command(*command)
        client.close()


def test_a_worker_whose_user_may_not_take_jobs_exits_with_a_failure(redis_url, service_values, tmp_path):
    """Celery stops on "Unrecoverable error" (here: NOPERM for BRPOP); a supervisor that restarts on failure, and
    its operator, must see a failure, not a clean exit."""
    admin, server = redis.Redis.from_url(redis_url), urlsplit(redis_url)
    name, password = f"test-nobrpop-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin.execute_command("ACL", "SETUSER", name, *compose_users()["worker"], "-brpop", f">{password}")
    url = f"redis://{name}:{password}@{server.hostname}:{server.port or 6379}{server.path or '/0'}"
    values = {**service_values, "QUEUE_NAME": f"acl-{uuid.uuid4().hex[:8]}", "REDIS_URL": url}
    env = service_env(values)
    try:
        done = subprocess.run([sys.executable, "-m", "captionbot", "worker"], env=env,
                              capture_output=True, text=True, timeout=120)
    finally:
        admin.acl_deluser(name)
        admin.close()
    assert "Unrecoverable error: auth:NoPermissionError" in done.stdout + done.stderr
    assert done.returncode == 1
