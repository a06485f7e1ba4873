"""Control commands that every worker answers (names and reply shapes in `captionbot.core.control`)."""

from celery.worker.control import control_command

from captionbot.core.control import STATUS_COMMAND
from captionbot.core.registry import Registry
from captionbot.core.settings import get_settings
from captionbot.worker.app import service


@control_command(name=STATUS_COMMAND)
def report_status(state: object) -> dict:
    versions = service.engine.versions() if service.engine else {}
    return {
        "status": "status",
        "version": versions.get("finetuned"),
        "pretrained": versions.get("pretrained"),
        "available": Registry(get_settings().model_dir).names(),
    }
