"""The worker's Prometheus endpoint, scraped after real jobs."""

import socket
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from captionbot.core.jobs import Job, Mode
from captionbot.core.queue import CaptionQueue
from tests.fixtures.services import WorkerProcess, service_env
from tests.integration.test_queue import png


def scrape(port: int) -> dict[str, list]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def test_the_worker_exports_jobs_waits_compute_batches_and_versions(service_values, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    values = {**service_values, "QUEUE_NAME": f"{service_values['QUEUE_NAME']}-metrics", "METRICS_PORT": str(port)}
    from tests.fixtures.services import settings_from

    settings = settings_from(values)
    worker = WorkerProcess(settings, service_env(values), tmp_path / "worker.log").start()
    try:
        queue = CaptionQueue(settings)
        queue.caption_sync(Job(image=png()), timeout=60)
        queue.caption_sync(Job(image=png(), mode=Mode.variations), timeout=60)
        queue.caption_sync(Job(image=b"not an image"), timeout=60)
        metrics = scrape(port)
    finally:
        worker.stop()
    jobs = {s.labels["status"]: s.value for s in metrics["captionbot_jobs"] if s.name == "captionbot_jobs_total"}
    assert jobs == {"ok": 2.0, "image_unsupported": 1.0}
    assert any(s.name.endswith("_count") and s.value == 2 for s in metrics["captionbot_queue_wait_seconds"])
    batches = [s for s in metrics["captionbot_batch_size"] if s.name.endswith("_count")]
    assert batches[0].value == 2
    modes = {s.labels["mode"] for s in metrics["captionbot_compute_seconds"] if s.name.endswith("_count")}
    assert modes == {"single", "variations"}
    versions = {s.labels["model"]: s.labels["version"] for s in metrics["captionbot_model_info"]}
    assert versions == {"finetuned": "v1", "pretrained": "tiny-pretrained0"}


def test_a_bot_exports_its_requests_and_latency(worker):
    import asyncio

    from captionbot.bot.service import CaptionRequest, CaptionService
    from captionbot.core.errors import ImageRejected
    from captionbot.core.metrics import serve_metrics

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve_metrics(port, worker.settings)
    before = scrape(port)

    def count(metrics, outcome):
        return sum(s.value for s in metrics.get("captionbot_bot_requests", []) if s.name.endswith("_total") and s.labels["outcome"] == outcome)

    async def requests():
        service = CaptionService(worker.settings)
        try:
            await service.caption(CaptionRequest(image=png(), user_id="metrics-user"))
            try:
                await service.caption(CaptionRequest(image=b"<svg></svg>", user_id="metrics-user"))
            except ImageRejected:
                pass
        finally:
            await service.aclose()

    asyncio.run(requests())
    after = scrape(port)
    assert count(after, "ok") - count(before, "ok") == 1
    assert count(after, "image_unsupported") - count(before, "image_unsupported") == 1
    latency = [s for s in after["captionbot_bot_request_seconds"] if s.name.endswith("_count")]
    assert latency[0].value >= 2
