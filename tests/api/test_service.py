"""GET /healthz and GET /v1/models on `captionbot api` with the session's worker."""

import requests

from captionbot.api.routes.page import STATIC
from tests.api.servers import bearer


def test_healthz_is_ok_with_redis_and_a_worker_on_the_queue(api, api_settings):
    response = requests.get(f"{api.url}/healthz", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["redis"] == {"ok": True}
    workers = body["checks"]["workers"]
    assert workers["ok"] is True and workers["count"] == 1 and workers["queue"] == api_settings.queue_name


def test_models_lists_the_registry_and_what_the_worker_serves(api, api_key, worker):
    response = requests.get(f"{api.url}/v1/models", headers=bearer(api_key), timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["current"] == "v1"
    assert [(v["name"], v["current"]) for v in body["versions"]] == [("v1", True)]
    assert body["workers"] == [{"worker": worker.name, "finetuned": "v1", "pretrained": "tiny-pretrained0"}]
    assert body["workers_checked_at"] > 0


def test_models_needs_a_key(api):
    assert requests.get(f"{api.url}/v1/models", timeout=10).status_code == 401


def test_the_page_and_its_files_are_served_with_a_strict_policy(api):
    page = requests.get(f"{api.url}/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/static/page.js">' in page.text
    modules = [(path.name, "javascript") for path in STATIC.glob("*.js")]
    for name, media in [*modules, ("page.css", "text/css"), ("favicon.ico", "image/")]:
        asset = requests.get(f"{api.url}/static/{name}", timeout=10)
        assert asset.status_code == 200 and media in asset.headers["content-type"]


def test_samples_are_listed_and_served(api):
    samples = requests.get(f"{api.url}/v1/samples", timeout=10).json()
    assert {s["name"] for s in samples} >= {"astronaut.png", "chelsea.png", "rocket.jpg"}
    first = samples[0]
    photo = requests.get(f"{api.url}{first['url']}", timeout=10)
    assert photo.status_code == 200 and photo.headers["content-type"].startswith("image/")
    missing = requests.get(f"{api.url}/v1/samples/passwd", timeout=10)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
