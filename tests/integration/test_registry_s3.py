"""Several hosts, one registry in S3 (moto's server, a real S3 API), one Redis: two `captionbot worker`
subprocesses, each with a cache of its own as on separate hosts, and a third that joins late with an empty one.

Publish, reload, a late joiner, a tampered object refused, the quality gate, rollback (CLI and `previous`),
unfinished uploads listed and cleaned."""

import json
import subprocess
import sys
import uuid

import boto3
import pytest

from captionbot.core.celery_config import make_celery
from captionbot.core.control import reload_workers, worker_status
from captionbot.core.jobs import Job
from captionbot.core.queue import CaptionQueue
from captionbot.core.registry import Registry
from tests.fixtures.models import make_tiny_checkpoint
from tests.fixtures.object_store import new_bucket
from tests.fixtures.services import WorkerProcess, service_env, settings_from
from tests.integration.test_queue import png

TEST_CIDER = {"v1": 0.50, "v2": 0.52, "v3": 0.51, "worse": 0.30}


@pytest.fixture(scope="module")
def store(s3_env, tmp_path_factory):
    """A bucket with v1 (CURRENT), v2, v3 and `worse`, each recording a test CIDEr."""
    url = new_bucket()
    registry = Registry(url)
    for seed, (name, cider) in enumerate(TEST_CIDER.items(), start=1):
        folder = make_tiny_checkpoint(tmp_path_factory.mktemp(name), seed=seed)
        metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").exists() else {}
        (folder / "metrics.json").write_text(json.dumps({**metrics, "test": {"CIDEr": cider}}))
        registry.add_version(folder, name)
    registry.set_current("v1")
    return registry


@pytest.fixture(scope="module")
def values(redis_url, tiny_checkpoint, store):
    return {
        "REDIS_URL": redis_url.rsplit("/", 1)[0] + "/3",  # a database of its own: broadcasts reach only these
        "QUEUE_NAME": f"s3-{uuid.uuid4().hex[:8]}",
        "PRETRAINED_MODEL": str(tiny_checkpoint),
        "MODEL_DIR": store.location,
        "DEVICE": "cpu",
        "HF_HUB_OFFLINE": "1",
        "QUALITY_GATE_MARGIN": "0.05",
    }


def start_host(values, root, name):
    host = {**values, "MODEL_CACHE_DIR": str(root / "cache")}
    return WorkerProcess(settings_from(host), service_env(host), root / "worker.log", name=f"{name}-{uuid.uuid4().hex[:6]}@host").start()


@pytest.fixture(scope="module")
def hosts(values, tmp_path_factory):
    workers = [start_host(values, tmp_path_factory.mktemp(name), name) for name in ("host-a", "host-b")]
    yield workers
    for worker in workers:
        worker.stop()


@pytest.fixture()
def app(hosts):
    return make_celery(hosts[0].settings)


def cli(values, *args):
    env = service_env(values)
    return subprocess.run([sys.executable, "-m", "captionbot", *args], env=env, capture_output=True, text=True, timeout=300)


def served(app) -> dict[str, str | None]:
    return {reply.worker: reply.version for reply in worker_status(app)}


def caption_version(settings) -> str:
    return CaptionQueue(settings).caption_sync(Job(image=png()), timeout=60).raise_for_error().results["finetuned"].version


def move_to(app, version):
    replies = reload_workers(app, version, timeout=60, force=True)
    assert {r.status for r in replies} <= {"ok", "unchanged"}, replies


def cache_of(worker):
    return worker.settings.model_cache_dir


def test_workers_start_on_the_store_current_each_from_its_own_cache(app, hosts):
    assert set(served(app).values()) == {"v1"}
    for worker in hosts:
        assert (cache_of(worker) / "v1" / "manifest.json").is_file()


def test_reload_moves_every_host_and_writes_the_store_current(app, hosts, values, store):
    move_to(app, "v1")
    result = cli(values, "reload", "v2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert all("now serving v2" in line for line in result.stdout.strip().splitlines())
    assert store.current() == "v2"
    assert set(served(app).values()) == {"v2"}
    assert caption_version(hosts[0].settings) == "v2"
    for worker in hosts:
        assert (cache_of(worker) / "v2" / "model.safetensors").is_file()


def test_a_late_joiner_with_an_empty_cache_serves_the_store_current(app, hosts, values, store, tmp_path):
    move_to(app, "v2")
    late = start_host(values, tmp_path, "late")
    try:
        assert served(app)[late.name] == "v2"
        assert (tmp_path / "cache" / "v2" / "manifest.json").is_file()
    finally:
        late.stop()


def test_a_tampered_object_is_refused_and_the_old_version_keeps_serving(app, hosts, store, tmp_path):
    move_to(app, "v1")
    folder = make_tiny_checkpoint(tmp_path / "tampered", seed=9)
    store.add_version(folder, "tampered")
    weights = store.key("finetuned/versions/tampered/model.safetensors")
    client = boto3.client("s3")
    body = bytearray(client.get_object(Bucket=store.bucket, Key=weights)["Body"].read())
    body[-1] ^= 0xFF
    client.put_object(Bucket=store.bucket, Key=weights, Body=bytes(body))
    replies = reload_workers(app, "tampered", timeout=60)
    assert len(replies) == 2
    for reply in replies:
        assert reply.status == "refused" and reply.version == "v1"
        assert "model.safetensors has sha256" in reply.reason and "manifest records" in reply.reason
    assert caption_version(hosts[0].settings) == "v1" and store.current() == "v1"
    for worker in hosts:
        assert not (cache_of(worker) / "tampered").exists()
        assert not [p for p in cache_of(worker).iterdir() if p.name.startswith(".")]


def test_the_quality_gate_refuses_a_worse_version_naming_both_figures_unless_forced(app, hosts, values, store):
    move_to(app, "v2")
    result = cli(values, "reload", "worse")
    assert result.returncode == 1
    for line in result.stdout.strip().splitlines():
        assert "refused, still serving v2" in line and "test CIDEr 0.300" in line and "v2's 0.520" in line
    assert store.current() == "v2" and set(served(app).values()) == {"v2"}
    assert reload_workers(app, "v3", timeout=60)[0].status == "ok"  # 0.51 against 0.52: within the margin
    forced = cli(values, "reload", "worse", "--force")
    assert forced.returncode == 0, forced.stdout
    assert set(served(app).values()) == {"worse"} and store.current() == "worse"


def test_rollback_and_reload_previous_return_every_host_to_the_version_before(app, hosts, values, store):
    move_to(app, "v1")
    move_to(app, "v2")
    result = cli(values, "rollback")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Rolling back from v2 to v1." in result.stdout
    assert store.current() == "v1" and set(served(app).values()) == {"v1"}
    replies = reload_workers(app, "previous", timeout=60)  # what the bots' /reload-model previous sends
    assert {r.status for r in replies} == {"ok"} and {r.version for r in replies} == {"v2"}
    assert store.current() == "v2"


def test_models_lists_the_store_and_every_worker_and_cleans_unfinished_uploads(app, hosts, values, store):
    move_to(app, "v2")
    client = boto3.client("s3")
    client.put_object(Bucket=store.bucket, Key=store.key("finetuned/versions/half/config.json"), Body=b"{}")
    listing = json.loads(cli(values, "models", "--json").stdout)
    assert [v["name"] for v in listing["versions"]] == sorted(["tampered", *TEST_CIDER])
    assert listing["current"] == "v2" and listing["previous"] == "v1"
    assert [u["name"] for u in listing["incomplete"]] == ["half"]
    assert {w["worker"]: w["version"] for w in listing["workers"]} == {w.name: "v2" for w in hosts}
    refused = reload_workers(app, "half", timeout=60)
    assert all(r.status == "refused" and "no model version 'half'" in r.reason for r in refused)
    cleaned = cli(values, "models", "--clean", "--older-than", "0")
    assert "removed 1 unfinished upload(s): half" in cleaned.stdout
    assert store.incomplete() == []


def test_the_cache_keeps_the_newest_few_versions(app, hosts):
    for version in ("v1", "v2", "v3", "v1"):
        move_to(app, version)
    for worker in hosts:
        assert sorted(p.name for p in cache_of(worker).iterdir()) == ["v1", "v2", "v3"]
