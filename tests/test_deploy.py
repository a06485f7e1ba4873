"""The deployment files: docker-compose.yml valid against the Compose specification, and what it promises."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).parents[1]
SCHEMA = Path(__file__).parent / "fixtures" / "data" / "compose_spec.json"  # from docker-compose 1.29 (Apache-2.0)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_follows_the_compose_specification(compose):
    jsonschema.validate(compose, json.loads(SCHEMA.read_text()))


def test_docker_compose_reads_it(tmp_path):
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    env = {**os.environ, "REDIS_PASSWORD": "x", "FLOWER_BASIC_AUTH": "a:b", "MINIO_ROOT_USER": "u", "MINIO_ROOT_PASSWORD": "p",
           "REDIS_WORKER_PASSWORD": "w", "REDIS_BOT_PASSWORD": "b", "REDIS_API_PASSWORD": "a"}
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    done = subprocess.run(
        [binary, "--project-directory", str(tmp_path), "-f", str(tmp_path / "docker-compose.yml"), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_redis_keeps_jobs(compose):
    command = " ".join(compose["services"]["redis"]["command"])
    assert "--maxmemory-policy noeviction" in command and "--appendonly yes" in command and "--requirepass" in command


def test_each_worker_is_pinned_to_its_own_gpu(compose):
    workers = {name: s for name, s in compose["services"].items() if name.startswith("worker-gpu")}
    devices = []
    for service in workers.values():
        (reservation,) = service["deploy"]["resources"]["reservations"]["devices"]
        assert reservation["driver"] == "nvidia" and reservation["capabilities"] == ["gpu"]
        devices += reservation["device_ids"]
        assert service["command"][:3] == ["worker", "--gpu", "0"]
    assert len(devices) == len(set(devices)) == len(workers) >= 1


def test_every_service_has_a_healthcheck_and_the_bots_and_flower_are_there(compose):
    services = compose["services"]
    assert {"redis", "worker-gpu0", "discord", "slack", "flower"} <= set(services)
    for name, service in services.items():
        assert "healthcheck" in service or "<<" in str(service), name


def test_the_bot_image_installs_no_torch():
    bot = (ROOT / "deploy" / "Dockerfile.bot").read_text()
    assert '".[bot]"' in bot and "torch" not in bot.split("\n", 1)[1].replace("No torch", "")
