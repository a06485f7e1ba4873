"""The worker's Celery app and the engine it serves with. Tasks live in `tasks.py`, control commands in
`control.py`; `captionbot worker` loads the models into `service` before the app starts consuming."""

import logging
from dataclasses import dataclass

from celery.signals import worker_ready

from captionbot.core.celery_config import make_celery
from captionbot.core.settings import get_settings
from captionbot.worker.engine import CaptionEngine
from captionbot.worker.swap import Swapper

log = logging.getLogger("captionbot.worker")


@dataclass
class Service:
    engine: CaptionEngine | None = None
    swapper: Swapper | None = None


service = Service()
app = make_celery(get_settings(), main="captionbot.worker")
app.conf.imports = ("captionbot.worker.tasks", "captionbot.worker.control")
# Celery's consumer, checking every message before Celery reads it (poison.py) and counting its restarts.
app.conf.worker_consumer = "captionbot.worker.consumer:GuardedConsumer"


@worker_ready.connect
def _announce_ready(sender: object = None, **_: object) -> None:
    versions = service.engine.versions() if service.engine else {}
    log.info(
        "ready: pretrained=%s finetuned=%s",
        versions.get("pretrained"),
        versions.get("finetuned") or "none (fine-tuned requests answer model_unavailable)",
    )
