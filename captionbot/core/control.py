"""Commands broadcast to every worker (hot swap, status), and the replies they gather.

The worker side lives in `captionbot.worker.control`; both meet only in these names and reply shapes.
"""

from celery import Celery
from pydantic import BaseModel

from captionbot.core.registry import validate_version

RELOAD_COMMAND = "captionbot_reload"
STATUS_COMMAND = "captionbot_status"


class WorkerReply(BaseModel):
    worker: str
    status: str  # "ok", "refused", "unchanged" or "status"
    version: str | None = None  # the fine-tuned version live after the command
    pretrained: str | None = None
    load_s: float | None = None
    reason: str | None = None
    available: list[str] = []  # registry versions the worker can load


def _gather(app: Celery, command: str, arguments: dict, timeout: float) -> list[WorkerReply]:
    replies = app.control.broadcast(command, arguments=arguments, reply=True, timeout=timeout) or []
    gathered = []
    for reply in replies:
        for worker, body in reply.items():
            body = body if isinstance(body, dict) else {"status": "error", "reason": str(body)}
            gathered.append(WorkerReply(worker=worker, **{k: v for k, v in body.items() if k != "worker"}))
    return sorted(gathered, key=lambda r: r.worker)


def reload_workers(app: Celery, version: str | None, timeout: float = 120.0) -> list[WorkerReply]:
    """Ask every worker to load `version` (default: the registry's CURRENT), check it and swap it in.

    One reply per worker; a worker that checks the version and swaps it in also makes it CURRENT."""
    arguments = {"version": validate_version(version) if version else None}
    return _gather(app, RELOAD_COMMAND, arguments, timeout)


def worker_status(app: Celery, timeout: float = 2.0) -> list[WorkerReply]:
    """What each live worker serves."""
    return _gather(app, STATUS_COMMAND, {}, timeout)
