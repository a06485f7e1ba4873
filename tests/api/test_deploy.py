"""The API in docker-compose.yml and its image: a service of its own with its port, key file, health check."""

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]


def test_compose_runs_the_api_with_its_port_keys_and_health_check():
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["api"]
    assert service["build"]["dockerfile"] == "deploy/Dockerfile.api"
    assert service["command"][:3] == ["api", "--host", "0.0.0.0"]
    assert service["ports"] == ["127.0.0.1:8000:8000"]
    assert service["environment"]["API_KEYS_FILE"].startswith("/data/") and "api-data:/data" in service["volumes"]
    # /v1/models lists the shared registry the workers use (the MinIO service), not a local folder.
    assert service["environment"]["MODEL_DIR"].startswith("s3://") and "minio" in service["depends_on"]
    assert "http://127.0.0.1:8000/healthz" in " ".join(service["healthcheck"]["test"])


def test_the_api_image_installs_no_torch():
    dockerfile = (ROOT / "deploy" / "Dockerfile.api").read_text()
    assert '".[api,demo]"' in dockerfile
    assert "torch" not in dockerfile.split("\n", 2)[2]


def test_the_page_and_its_files_are_packaged():
    # A non-editable install (the API's image) carries only the package data pyproject.toml names.
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["captionbot.api"]
    static = ROOT / "captionbot" / "api" / "static"
    files = [path.relative_to(static.parent).as_posix() for path in static.iterdir()]
    assert {"static/index.html", "static/page.js", "static/favicon.ico"} <= set(files)
    assert [name for name in files if not any(fnmatch(name, pattern) for pattern in patterns)] == []
