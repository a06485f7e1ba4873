"""One Celery configuration for every process: senders (bots, CLI) and workers agree on it."""

from celery import Celery

from captionbot.core.jobs import TASK_NAME
from captionbot.core.settings import Settings


def make_celery(settings: Settings, main: str = "captionbot") -> Celery:
    url = settings.redis_url.get_secret_value()
    app = Celery(main, broker=url, backend=url, set_as_current=False)
    vt = settings.visibility_timeout_s
    transport = {
        "visibility_timeout": vt,
        # Sweep for jobs a dead worker left unacknowledged every few seconds (kombu's default sweep runs about
        # every 100 s), so a job comes back soon after its visibility timeout rather than minutes later.
        "unacked_restore_interval": max(1, min(10, vt // 2)),
        "unacked_restore_throttle": 1,
    }
    app.conf.update(
        # JSON only: a pickle message is refused before anything runs.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_default_queue=settings.queue_name,
        task_routes={TASK_NAME: {"queue": settings.queue_name}},
        # A job is acknowledged only once answered: a worker that dies mid-job leaves it for the next one,
        # which gets it after the visibility timeout (or at once, when the pool saw its child die).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        visibility_timeout=vt,
        result_expires=settings.result_expires_s,
        broker_connection_retry_on_startup=True,
        # Without it, late-acked jobs can run twice after a broker connection loss (default until Celery 6).
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        broker_pool_limit=10,
    )
    return app
