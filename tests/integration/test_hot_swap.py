"""Hot swap with real worker subprocesses: versions change, no job is lost, bad versions are refused."""

import asyncio
import json
import shutil
import threading
import uuid

import pytest

from captionbot.core.celery_config import make_celery
from captionbot.core.control import reload_workers, worker_status
from captionbot.core.errors import InvalidVersion
from captionbot.core.jobs import Job
from captionbot.core.queue import CaptionQueue
from captionbot.core.registry import Registry
from tests.fixtures.models import make_pickled_checkpoint, make_tiny_checkpoint
from tests.fixtures.services import WorkerProcess, service_env, settings_from
from tests.integration.test_queue import png


@pytest.fixture(scope="module")
def swap_values(redis_url, tiny_checkpoint, tmp_path_factory):
    """A registry of its own (v1 CURRENT, v2, and two broken versions) on a Redis database of its own, so the
    broadcasts here reach only the workers started here."""
    root = tmp_path_factory.mktemp("swap-registry")
    registry = Registry(root)
    for seed, name in ((1, "v1"), (2, "v2")):
        registry.add_version(make_tiny_checkpoint(tmp_path_factory.mktemp(name), seed=seed), name)
    registry.set_current("v1")
    truncated = tmp_path_factory.mktemp("truncated")
    shutil.copytree(registry.versions_dir / "v2", truncated, dirs_exist_ok=True)
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    registry.add_version(truncated, "broken-weights")
    mismatched = tmp_path_factory.mktemp("mismatched")
    shutil.copytree(registry.versions_dir / "v2", mismatched, dirs_exist_ok=True)
    processor = json.loads((mismatched / "processor_config.json").read_text())
    processor["image_processor"]["size"] = {"height": 32, "width": 32}  # the model still expects 64 px
    (mismatched / "processor_config.json").write_text(json.dumps(processor))
    registry.add_version(mismatched, "wrong-config")
    registry.add_version(make_pickled_checkpoint(registry.versions_dir / "v2", tmp_path_factory.mktemp("pickled")),
                         "pickled-weights")
    return {
        "REDIS_URL": redis_url.rsplit("/", 1)[0] + "/2",
        "QUEUE_NAME": f"swap-{uuid.uuid4().hex[:8]}",
        "PRETRAINED_MODEL": str(tiny_checkpoint),
        "MODEL_DIR": str(root),
        "DEVICE": "cpu",
        "HF_HUB_OFFLINE": "1",
    }


@pytest.fixture(scope="module")
def swap_worker(swap_values, tmp_path_factory):
    process = WorkerProcess(settings_from(swap_values), service_env(swap_values), tmp_path_factory.mktemp("w") / "worker.log")
    yield process.start()
    process.stop()


@pytest.fixture()
def app(swap_worker):
    return make_celery(swap_worker.settings)


def caption_version(settings) -> str:
    result = CaptionQueue(settings).caption_sync(Job(image=png()), timeout=60).raise_for_error()
    return result.results["finetuned"].version


def reload_to(app, version):
    (reply,) = reload_workers(app, version, timeout=60)
    return reply


def test_reload_changes_the_version_in_replies_and_current(app, swap_worker):
    reply = reload_to(app, "v2")
    assert reply.status == "ok" and reply.version == "v2" and reply.load_s > 0
    assert reply.worker == swap_worker.name
    assert caption_version(swap_worker.settings) == "v2"
    assert Registry(swap_worker.settings.model_dir).current() == "v2"
    assert reload_to(app, "v2").status == "unchanged"
    assert reload_to(app, "v1").version == "v1"


@pytest.mark.parametrize(("version", "says"), [("broken-weights", "could not load"), ("wrong-config", "processor"),
                                               ("pickled-weights", "no safetensors weights (model.safetensors); "
                                                                   "only pytorch_model.bin. Only safetensors")])
def test_a_broken_version_is_refused_and_the_old_one_keeps_serving(app, swap_worker, version, says):
    before = caption_version(swap_worker.settings)
    reply = reload_to(app, version)
    assert reply.status == "refused" and says in reply.reason
    assert reply.version == before
    assert caption_version(swap_worker.settings) == before


def test_unknown_and_path_like_versions_are_refused(app, swap_worker):
    reply = reload_to(app, "v9")
    assert reply.status == "refused" and "no model version 'v9'" in reply.reason
    for bad in ("../v1", "v1/../../etc", ".."):
        with pytest.raises(InvalidVersion):
            reload_workers(app, bad)


def test_a_steady_stream_of_jobs_through_three_reloads_loses_nothing(app, swap_worker):
    outcomes, stop = [], threading.Event()

    async def stream():
        queue = CaptionQueue(swap_worker.settings)
        try:
            while not stop.is_set():
                batch = [Job(image=png((i * 40, 90, 10))) for i in range(4)]
                outcomes.extend(await asyncio.gather(*(queue.caption(job, timeout=60) for job in batch)))
        finally:
            await queue.aclose()

    sender = threading.Thread(target=asyncio.run, args=(stream(),))
    sender.start()
    try:
        replies = [reload_to(app, version) for version in ("v2", "v1", "v2")]
    finally:
        stop.set()
        sender.join(timeout=120)
    assert [r.status for r in replies] == ["ok", "ok", "ok"]
    assert len(outcomes) >= 8
    assert all(r.error is None for r in outcomes)
    assert {r.results["finetuned"].version for r in outcomes} <= {"v1", "v2"}


def test_a_worker_started_after_the_reload_serves_the_new_version(app, swap_worker, swap_values, tmp_path):
    assert reload_to(app, "v2").version in ("v2",)
    late = WorkerProcess(settings_from(swap_values), service_env(swap_values), tmp_path / "late.log").start()
    try:
        statuses = {reply.worker: reply.version for reply in worker_status(app)}
        assert statuses[late.name] == "v2" and statuses[swap_worker.name] == "v2"
    finally:
        late.stop()


def test_a_restarted_worker_checks_current_as_a_reload_does(app, swap_worker, swap_values, tmp_path):
    """CURRENT naming a version that a reload refuses (as an unchecked publish could once leave it), and before it
    another: a worker started after that refuses both too and serves the version live before them."""
    registry = Registry(swap_worker.settings.model_dir)
    assert reload_to(app, "v2").status in ("ok", "unchanged")
    assert reload_to(app, "v1").status == "ok"
    assert reload_to(app, "wrong-config").status == "refused"
    registry.set_current("wrong-config")
    registry.set_current("pickled-weights")
    late = WorkerProcess(settings_from(swap_values), service_env(swap_values), tmp_path / "late.log")
    try:
        late.start()
        assert {reply.worker: reply.version for reply in worker_status(app)}[late.name] == "v1"
        assert "refused finetuned pickled-weights at start: could not load the finetuned model" in late.log_text()
        assert "no safetensors weights" in late.log_text()
        assert "refused finetuned wrong-config at start" in late.log_text()
    finally:
        late.stop()
        registry.set_current("v1")
