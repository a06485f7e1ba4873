"""Control commands that every worker answers (names and reply shapes in `captionbot.core.control`)."""

from celery.worker.control import control_command

from captionbot.core.control import RELOAD_COMMAND, RESOLVE_COMMAND, STATUS_COMMAND
from captionbot.worker.app import service


@control_command(name=STATUS_COMMAND, args=[("request_id", str)], signature="[request_id]")
def report_status(state: object, request_id: str | None = None) -> dict:
    """What this worker serves and the registry's versions; with `request_id`, how that reload went (or that it
    is still loading)."""
    versions = service.engine.versions() if service.engine else {}
    reply = {"status": "status", "version": versions.get("finetuned"), "pretrained": versions.get("pretrained")}
    if service.swapper is not None:
        reply["available"] = service.swapper.available()
        if request_id:
            reply.update(service.swapper.outcome(request_id) or {"status": "unknown_request"})
    return reply


@control_command(
    name=RELOAD_COMMAND, args=[("version", str), ("request_id", str), ("force", bool)], signature="[version] request_id [force]"
)
def start_reload(state: object, version: str | None = None, request_id: str = "", force: bool = False) -> dict:
    """Begin loading a registry version beside the serving one; the outcome comes through the status command."""
    if service.swapper is None:
        return {"status": "refused", "reason": "this worker is still starting"}
    return service.swapper.start(version, request_id, bool(force))


@control_command(name=RESOLVE_COMMAND)
def resolve_previous(state: object) -> dict:
    """The version live before CURRENT, read from the registry (for `reload previous`, i.e. a rollback)."""
    if service.swapper is None:
        return {"status": "refused", "reason": "this worker is still starting"}
    return service.swapper.resolve_previous()
