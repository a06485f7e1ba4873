"""`captionbot worker`: load both models, then consume jobs with Celery's threads pool.

Threads, not prefork: the models live once in this process, the batching thread owns the device, and
control commands (hot swap) run in this same process, where the models are.
"""

import logging
import sys

from celery import signals

from captionbot.core.metrics import serve_metrics
from captionbot.core.redis_login import login_refused
from captionbot.core.settings import get_settings
from captionbot.blip.loading import ModelLoadError

log = logging.getLogger("captionbot.worker")


def run_worker(name: str, concurrency: int | None, loglevel: str, metrics_port: int | None = None) -> int:
    settings = get_settings()
    refused = login_refused(settings.redis_url.get_secret_value())
    if refused:
        print(f"captionbot worker: {refused}", file=sys.stderr)
        return 1
    from captionbot.worker import broker_guard
    from captionbot.worker.app import app, service
    from captionbot.worker.health import add_worker_checks
    from captionbot.worker.poison import Dropper, max_body_bytes
    from captionbot.worker.startup import build_engine
    from captionbot.worker.swap import Swapper

    try:
        service.engine = build_engine(settings)
    except ModelLoadError as err:
        print(f"captionbot worker: {err}", file=sys.stderr)
        return 1
    service.swapper = Swapper(service.engine, settings)
    dropper = Dropper(app, settings.queue_name, settings.max_image_bytes, name)
    broker_guard.install(dropper, max_body_bytes(settings.max_image_bytes))
    add_worker_checks(serve_metrics(metrics_port or settings.metrics_port, settings), service.engine, settings)
    app.conf.worker_concurrency = concurrency or settings.worker_concurrency  # the tasks publish it with their pace
    started = []
    signals.celeryd_after_setup.connect(lambda sender, instance, **_: started.append(instance), weak=False)
    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={app.conf.worker_concurrency}",
            f"--queues={settings.queue_name}",
            f"--hostname={name}",
            f"--loglevel={loglevel}",
            "--without-mingle",
            "--without-gossip",
        ]
    )
    # Celery's own exit status (1 after "Unrecoverable error"), which `worker_main` drops: a supervisor that
    # restarts on failure must see the worker fail.
    if not started:  # Celery stopped before it made its worker (it has printed why)
        return 1
    return started[0].exitcode or 0
