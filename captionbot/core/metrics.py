"""Prometheus metrics that the bots export (the worker's are in `captionbot.worker.metrics`), and the port they
and the health checks are served on."""

from prometheus_client import Counter, Histogram

from captionbot.core.health import Health, redis_check, serve_health
from captionbot.core.settings import Settings

BOT_REQUESTS = Counter(
    "captionbot_bot_requests_total", "Caption requests a bot handled, by outcome (ok or an error code)", ["outcome"]
)
BOT_LATENCY = Histogram(
    "captionbot_bot_request_seconds",
    "From a bot receiving the image to the caption being back",
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120),
)


def serve_metrics(port: int | None, settings: Settings) -> Health:
    """Expose /metrics and /healthz on METRICS_HOST:`port` (loopback unless set: 0.0.0.0 in a container, for a
    Prometheus scraper beside it); no port: nothing is served. The Health returned checks Redis; add the
    process's own checks."""
    health = Health()
    health.add("redis", redis_check(settings.redis_url.get_secret_value()))
    if port:
        serve_health(port, health, settings.metrics_host)
    return health
