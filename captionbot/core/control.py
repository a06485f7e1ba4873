"""Commands broadcast to every worker (hot swap, status), and the replies they gather.

The worker side lives in `captionbot.worker.control`; both meet only in these names and reply shapes.
A reload is two steps, because loading takes seconds and a worker's control loop must not stall meanwhile:
the reload command is accepted at once, then the status command is polled for that request's outcome.
`previous` (a rollback) is first resolved to a concrete version by one worker, from the registry they share,
so that every worker moves to the same version whichever finishes first.
"""

import time
import uuid

from celery import Celery
from pydantic import BaseModel

from captionbot.core.registry.layout import PREVIOUS, validate_version

RELOAD_COMMAND = "captionbot_reload"
STATUS_COMMAND = "captionbot_status"
RESOLVE_COMMAND = "captionbot_resolve"
DONE = ("ok", "unchanged", "refused")
BROADCAST_TIMEOUT_S = 2.0


class WorkerReply(BaseModel):
    worker: str
    # "ok" (swapped in), "unchanged" (already live), "refused" (old model keeps serving), "no_answer",
    # or "status" for a plain status reply
    status: str
    version: str | None = None  # the fine-tuned version live after the command
    pretrained: str | None = None
    load_s: float | None = None
    reason: str | None = None
    available: list[str] = []  # registry versions the worker can load


def _gather(
    app: Celery, command: str, arguments: dict, timeout: float, workers: list[str] | None = None
) -> dict[str, WorkerReply]:
    replies = app.control.broadcast(
        command,
        arguments=arguments,
        reply=True,
        timeout=timeout,
        destination=workers,
        limit=len(workers) if workers else None,
    )
    gathered = {}
    for reply in replies or []:
        for worker, body in reply.items():
            body = body if isinstance(body, dict) else {"status": "refused", "reason": str(body)}
            if "error" in body and "status" not in body:  # Celery's answer for an unknown command
                body = {"status": "refused", "reason": body["error"]}
            gathered[worker] = WorkerReply(worker=worker, **{k: v for k, v in body.items() if k in WorkerReply.model_fields})
    return gathered


def live_workers(app: Celery, timeout: float = 1.0) -> list[str]:
    return sorted(name for reply in app.control.ping(timeout=timeout) or [] for name in reply)


def reload_workers(
    app: Celery, version: str | None, timeout: float = 120.0, poll_s: float = 0.25, force: bool = False
) -> list[WorkerReply]:
    """Ask every worker to load `version` (default: the registry's CURRENT; `previous`: the version live before
    it), check it and swap it in; `force` passes the quality gate (a rollback always does).

    One reply per live worker, including those that did not answer in time. A worker that swaps the version
    in also makes it the registry's CURRENT, so workers started later serve it too."""
    live = live_workers(app)
    if version == PREVIOUS:
        resolved = resolve_previous(app, live)
        if resolved.status != "resolved":
            return [resolved.model_copy(update={"worker": name}) for name in live]
        version, force = resolved.version, True
    request_id = uuid.uuid4().hex
    arguments = {"version": validate_version(version) if version else None, "request_id": request_id, "force": force}
    accepted = _gather(app, RELOAD_COMMAND, arguments, timeout=2.0, workers=live or None)
    results = {name: reply for name, reply in accepted.items() if reply.status != "accepted"}
    pending = sorted(name for name, reply in accepted.items() if reply.status == "accepted")
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        time.sleep(poll_s)
        for name, reply in _gather(app, STATUS_COMMAND, {"request_id": request_id}, 2.0, pending).items():
            if reply.status in DONE:
                results[name] = reply
                pending.remove(name)
    for name in [*pending, *(w for w in live if w not in accepted)]:
        results[name] = WorkerReply(worker=name, status="no_answer", reason="did not answer in time")
    return [results[name] for name in sorted(results)]


def resolve_previous(app: Celery, live: list[str], timeout: float = 5.0) -> WorkerReply:
    """The version live before CURRENT, as one worker reads it from the registry (status "resolved"), or a
    refusal saying why there is none."""
    for name in live:
        reply = _gather(app, RESOLVE_COMMAND, {}, timeout, [name]).get(name)
        if reply is not None:
            return reply
    return WorkerReply(worker="", status="no_answer", reason="no worker answered to find the previous version")


def worker_status(app: Celery, timeout: float = 1.0, live: list[str] | None = None) -> list[WorkerReply]:
    """What each live worker (or each of `live`) serves."""
    live = live_workers(app, timeout) if live is None else live
    replies = _gather(app, STATUS_COMMAND, {}, timeout, live) if live else {}
    return [replies.get(name) or WorkerReply(worker=name, status="no_answer") for name in live]


def serving_workers(app: Celery, queue_name: str, timeout: float = BROADCAST_TIMEOUT_S) -> list[WorkerReply]:
    """What each live worker that consumes `queue_name` serves (blocking: `timeout` for the broadcast, and the
    time they take to answer). The API's probe and `captionbot caption --queue` ask this."""
    queues = app.control.inspect(timeout=timeout).active_queues() or {}
    names = {worker for worker, consumed in queues.items() if any(q.get("name") == queue_name for q in consumed)}
    return worker_status(app, timeout, sorted(names))


def no_worker(queue_name: str) -> str:
    return f"no worker consumes the queue {queue_name}"
