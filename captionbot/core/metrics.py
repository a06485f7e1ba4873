"""Prometheus metrics that the bots export (the worker's are in `captionbot.worker.metrics`)."""

from prometheus_client import Counter, Histogram, start_http_server

BOT_REQUESTS = Counter(
    "captionbot_bot_requests_total", "Caption requests a bot handled, by outcome (ok or an error code)", ["outcome"]
)
BOT_LATENCY = Histogram(
    "captionbot_bot_request_seconds",
    "From a bot receiving the image to the caption being back",
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120),
)


def serve_metrics(port: int | None) -> None:
    """Expose /metrics on `port` (all interfaces, for a Prometheus scraper); no-op without a port."""
    if port:
        start_http_server(port)
