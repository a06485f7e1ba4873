"""The API's fixtures: a key file with a key made by `captionbot api-key create`, and `captionbot api` serving
the session's real worker with a 2 MiB image limit (so over-limit uploads stay small to send)."""

import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from captionbot.core.errors import ImageRejected
from captionbot.core.images import shrink_for_job
from tests.api.browser import browser, page  # noqa: F401 (fixtures for the page's tests)
from tests.api.servers import ApiProcess
from tests.fixtures.services import WorkerProcess, service_env, settings_from

MAX_IMAGE_BYTES = 2 * 1024 * 1024


def png(color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (96, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def refusal(data: bytes) -> ImageRejected:
    """The typed error (code and sentence) core gives the bots for this file."""
    with pytest.raises(ImageRejected) as info:
        shrink_for_job(data, MAX_IMAGE_BYTES, 50_000_000, 768)
    return info.value


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


def api_key_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "captionbot", "api-key", *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="session")
def api_values(service_values: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    keys = tmp_path_factory.mktemp("api-keys") / "api_keys.json"
    return {
        **service_values,
        "API_KEYS_FILE": str(keys),
        "MAX_IMAGE_BYTES": str(MAX_IMAGE_BYTES),
        "API_RATE_PER_MINUTE": "1000",
        "API_WORKER_PROBE_S": "2",
    }


@pytest.fixture(scope="session")
def api_env(api_values: dict[str, str]) -> dict[str, str]:
    return service_env(api_values)


@pytest.fixture(scope="session")
def api_key(api_env: dict[str, str]) -> str:
    done = api_key_command(api_env, "create", "tests")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="session")
def api(worker: WorkerProcess, api_env: dict[str, str], api_key: str, tmp_path_factory) -> Iterator[ApiProcess]:
    """`captionbot api` on a free loopback port, serving the session's worker."""
    process = ApiProcess(api_env, tmp_path_factory.mktemp("api") / "api.log").start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def api_settings(api_values: dict[str, str]):
    return settings_from(api_values)


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where tests keep what a person should look at (screenshots): TEST_ARTIFACTS_DIR, else the session's
    temporary folder; the tests that write there print the paths (`pytest -rP` shows them)."""
    folder = Path(os.environ.get("TEST_ARTIFACTS_DIR") or tmp_path_factory.getbasetemp() / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def stopped_worker(worker):
    """The session's worker frozen (SIGSTOP) while the test runs: reachable at start, then silent."""
    os.kill(worker.process.pid, signal.SIGSTOP)
    try:
        yield worker
    finally:
        os.kill(worker.process.pid, signal.SIGCONT)
