"""`/reload-model` and `/models`: admins only, checked on every call; each worker's answer shown.

A reload is broadcast to every worker on the broker, so these tests run their own worker on a Redis database of
their own: no other test's (or benchmark's) worker is ever asked to swap."""

import asyncio
import uuid
from collections.abc import Iterator

import pytest
import redis

from captionbot.bot import messages
from captionbot.core.registry import Registry
from tests.bot.slack.harness import ADMIN, MEMBER, harness
from tests.fixtures.models import make_tiny_checkpoint
from tests.fixtures.services import WorkerProcess, service_env, settings_from

ADMIN_REDIS_DB = 5


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def admin_worker(service_values: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """A real worker with an empty registry (nothing fine-tuned yet) on its own broker database."""
    redis_url = service_values["REDIS_URL"].rsplit("/", 1)[0] + f"/{ADMIN_REDIS_DB}"
    queue = f"slack-admin-{uuid.uuid4().hex[:8]}"
    values = {
        **service_values,
        "REDIS_URL": redis_url,
        "QUEUE_NAME": queue,
        "MODEL_DIR": str(tmp_path_factory.mktemp("registry")),
    }
    process = WorkerProcess(settings_from(values), service_env(values), tmp_path_factory.mktemp("admin") / "worker.log")
    yield process.start()
    process.stop()
    store = redis.Redis.from_url(redis_url)
    for key in store.scan_iter(match=f"*{queue}*"):
        store.delete(key)


def test_members_who_are_not_admins_are_refused_and_nothing_is_broadcast(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            acks = [await h.dispatch(h.command(name, "v1", user=MEMBER)) for name in ("/reload-model", "/models")]
            await h.settle()
            return acks, h.slack

    acks, slack = run(scenario())
    assert [(a.status, a.body) for a in acks] == [(200, messages.ADMIN_ONLY)] * 2
    assert slack.responses == []


def test_an_admin_publishes_a_version_swaps_it_in_and_sees_each_worker_serve_it(admin_worker, tmp_path):
    name = admin_worker.name

    async def scenario():
        async with harness(admin_worker.settings) as h:
            await h.dispatch(h.command("/models", user=ADMIN))
            await h.settle()
            Registry(admin_worker.settings.model_dir).add_version(make_tiny_checkpoint(tmp_path / "v1", seed=1), "v1")
            started = await h.dispatch(h.command("/reload-model", "v1", user=ADMIN))
            await h.settle()
            await h.dispatch(h.command("/models", user=ADMIN))
            await h.settle()
            return started, h.slack.responses

    started, responses = run(scenario())
    before, reload, after = (r["blocks"][0]["text"]["text"].splitlines() for r in responses)
    assert before == [
        f"*{messages.SLACK_MODELS_TITLE}*",
        f"{name}: fine-tuned none",
        f"Available: {messages.NO_VERSIONS}",
    ]
    assert started.body == messages.RELOAD_STARTED.format(version="v1")
    assert reload[0] == f"*{messages.SLACK_RELOAD_TITLE.format(version='v1')}*"
    assert reload[1].startswith(f"{name}: now serving v1 (loaded in ") and len(reload) == 2
    assert after == [f"*{messages.SLACK_MODELS_TITLE}*", f"{name}: fine-tuned v1", "Available: v1"]
    assert all(r["response_type"] == "ephemeral" for r in responses) and responses[1]["replace_original"] is True


def test_a_bad_version_name_or_extra_words_are_answered_plainly(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            usage = await h.dispatch(h.command("/reload-model", "v1 v2", user=ADMIN))
            await h.dispatch(h.command("/reload-model", "../../etc", user=ADMIN))
            await h.settle()
            return usage, h.slack.responses

    usage, (refused,) = run(scenario())
    assert usage.body == messages.SLACK_RELOAD_USAGE
    assert refused["text"].startswith("'../../etc' is not a valid version name")


def test_an_admin_rolls_back_with_reload_model_previous(admin_worker, tmp_path):
    registry = Registry(admin_worker.settings.model_dir)
    for seed, version in ((3, "before"), (4, "after")):
        registry.add_version(make_tiny_checkpoint(tmp_path / version, seed=seed), version)

    async def scenario():
        async with harness(admin_worker.settings) as h:
            for version in ("before", "after", "previous"):
                await h.dispatch(h.command("/reload-model", version, user=ADMIN))
                await h.settle()
            return h.slack.responses

    *_, rollback = run(scenario())
    lines = rollback["blocks"][0]["text"]["text"].splitlines()
    assert lines[1].startswith(f"{admin_worker.name}: now serving before (loaded in ")
    assert registry.current() == "before" and registry.previous() == "after"
