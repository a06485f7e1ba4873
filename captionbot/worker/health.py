"""A worker's own health checks, beside Redis's: the batching thread runs, the models it should serve are
loaded (the pretrained one always; the fine-tuned one when FINETUNED_MODEL or the registry names one), and its
job consumer is not restarting again and again."""

from captionbot.core.health import Health
from captionbot.core.registry import Registry
from captionbot.core.settings import Settings
from captionbot.worker.consumer import RESTARTS
from captionbot.worker.engine import CaptionEngine


def add_worker_checks(health: Health, engine: CaptionEngine, settings: Settings) -> None:
    health.add("batching", lambda: None if engine.batching_alive() else "the batching thread has stopped")
    health.add("models", lambda: _missing_model(engine, settings))
    health.add("consumer", RESTARTS.problem)


def _missing_model(engine: CaptionEngine, settings: Settings) -> str | None:
    versions = engine.versions()
    if versions.get("pretrained") is None:
        return "the pretrained model is not loaded"
    wanted = settings.finetuned_model or Registry(settings.model_dir).current()
    if wanted and versions.get("finetuned") is None:
        return f"the fine-tuned model {wanted} is not loaded"
    return None
