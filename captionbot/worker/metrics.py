"""Prometheus metrics of a worker: jobs by status, expired jobs, queue wait, compute time, batch size, live versions."""

from prometheus_client import Counter, Histogram, Info

JOBS = Counter("captionbot_jobs_total", "Jobs finished, by status (ok or an error code)", ["status"])
QUEUE_WAIT = Histogram(
    "captionbot_queue_wait_seconds",
    "From submission to the start of compute",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
COMPUTE = Histogram(
    "captionbot_compute_seconds",
    "Compute time of one batch, by model and mode",
    ["model", "mode"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16),
)
EXPIRED = Counter(
    "captionbot_jobs_expired_total",
    "Jobs answered `expired` without being computed, by where their deadline was found passed "
    "(delivery: on arrival; start: as a thread took it; batch: just before its batch ran)",
    ["stage"],
)
BATCH_SIZE = Histogram("captionbot_batch_size", "Jobs per batch", buckets=(1, 2, 4, 8, 16, 32, 64))
MODEL = Info("captionbot_model", "The version each model serves", ["model"])


def set_version(model: str, version: str | None) -> None:
    MODEL.labels(model).info({"version": version or "none"})
POISON = Counter(
    "captionbot_poison_messages_total",
    "Messages on the job queue that were not jobs, acknowledged and dropped before Celery read them, by what was "
    "wrong (worker/poison.py)",
    ["kind"],
)
CONSUMER_RESTARTS = Counter("captionbot_consumer_restarts_total", "Times the job consumer lost its broker connection")
