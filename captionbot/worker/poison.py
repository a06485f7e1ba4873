"""Messages on the job queue that are not jobs: what is wrong with one, and what becomes of it.

Anyone who can write to the broker can put anything on the queue, and Celery and kombu die or loop on much of it:
a body that is not `[args, kwargs, embed]` ends the worker after restoring the message, so every fresh worker
dies on it again; a message without an `id` header is taken for a lost connection and retried in a tight loop;
an envelope that is not kombu's (not JSON, headers that are not a mapping) ends the worker from inside kombu.

So a message is checked twice before Celery's strategy sees it, against the shape our senders give a job
(`core/queue.py`): kombu's envelope as it leaves Redis (`envelope_poison`, from `broker_guard.py`), then the
message Celery would read (`poison`, from `consumer.py`): protocol 2, JSON, our task's name, an id that fits
`JOB_ID`, one job object as the only argument, nothing linked, and no bigger than a job of the largest image.
One that fails is dropped (acknowledged where kombu had taken it), kept on a capped dead-letter list, counted,
and logged in one line that says why; a sender waiting on a valid id hears why. What the job itself holds
(options, image) is the task's to check: it answers the sender with a typed error.
"""

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis
from celery import Celery

from captionbot.core.errors import ImageTooLarge
from captionbot.core.images import check_size
from captionbot.core.jobs import JOB_ID, TASK_NAME, JobResult
from captionbot.worker import metrics

log = logging.getLogger("captionbot.worker")

DEAD_LETTER_KEEP = 100  # the newest this many dropped messages are kept per queue
KEPT_BODY_CHARS = 2000
# Room in a message's body beside the image's base64: the job's other fields and Celery's envelope.
BODY_ALLOWANCE = 64 * 1024
LINKED = ("callbacks", "errbacks", "chain", "chord")
BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


@dataclass(frozen=True)
class Poison:
    kind: str  # a metric label: bad_envelope, bad_headers, wrong_task, no_id, bad_id, not_json, bad_body, too_large
    reason: str  # what is wrong, for the log line and the dead-letter list
    image_bytes: int = 0  # too_large: about how large the image in it is


def dead_letter_key(queue: str) -> str:
    return f"captionbot:dead-letter:{queue}"


def max_body_bytes(max_image_bytes: int) -> int:
    """The largest body a job can have: its image as base64 (4 characters per 3 bytes) and the allowance."""
    return -(-max_image_bytes // 3) * 4 + BODY_ALLOWANCE


def shown(value: object, limit: int = 80) -> str:
    """A value from a message as it may appear in a log line: repr'd (no raw newline), cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def envelope_poison(payload: object, max_body: int) -> Poison | None:
    """What in kombu's envelope (as it comes out of Redis) would stop kombu from making a message of it."""
    if not isinstance(payload, dict):
        return Poison("bad_envelope", f"its envelope is a JSON {type(payload).__name__}, not kombu's object")
    properties = payload.get("properties")
    if not isinstance(properties, dict) or not isinstance(properties.get("delivery_tag"), str):
        return Poison("bad_envelope", "its envelope has no delivery tag")
    headers = payload.get("headers")
    if headers is not None and not isinstance(headers, dict):
        return Poison("bad_headers", f"its headers are a {type(headers).__name__}, not a mapping")
    if "compression" in (headers or {}):
        return Poison("bad_headers", "it is compressed; jobs never are")
    if not all(payload.get(name) is None or isinstance(payload.get(name), str)
               for name in ("body", "content-type", "content-encoding")):
        return Poison("bad_envelope", "its body or content type is not text")
    body, encoding = payload.get("body") or "", properties.get("body_encoding")
    body_bytes = len(body) * 3 // 4 if encoding == "base64" else len(body)
    if body_bytes > max_body:
        reason = f"its body is {body_bytes} bytes, more than a job of the largest image ({max_body})"
        return Poison("too_large", reason, image_bytes=body_bytes * 3 // 4)
    if encoding not in (None, "base64") or encoding == "base64" and not _is_base64(body):
        return Poison("bad_envelope", f"its body is not in the encoding it names ({shown(encoding)})")
    return None


def _is_base64(text: str) -> bool:
    return len(text) % 4 == 0 and BASE64.fullmatch(text) is not None


def poison(headers: dict, content_type: str | None, decode: Callable[[], object]) -> Poison | None:
    """What makes a message (its headers, content type and body decoder) not one of our jobs, or None."""
    return headers_poison(headers) or _body_poison(content_type, decode)


def headers_poison(headers: dict) -> Poison | None:
    if "task" not in headers:
        return Poison("wrong_task", "it names no task in its headers (not Celery's message protocol 2)")
    if headers["task"] != TASK_NAME:
        return Poison("wrong_task", f"it names the task {shown(headers['task'])}; this queue serves {TASK_NAME}")
    if "id" not in headers:
        return Poison("no_id", "it has no id header")
    task_id = headers["id"]
    if not isinstance(task_id, str) or not JOB_ID.fullmatch(task_id):
        return Poison("bad_id", f"its id {shown(task_id)} is not 1 to 64 letters, digits, '-' or '_'")
    for name in ("eta", "expires"):
        if not _iso_time_or_none(headers.get(name)):
            return Poison("bad_headers", f"its {name} header {shown(headers[name])} is not an ISO 8601 time")
    return None


def _iso_time_or_none(value: object) -> bool:
    if value is None:
        return True
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _body_poison(content_type: str | None, decode: Callable[[], object]) -> Poison | None:
    if content_type != "application/json":
        return Poison("not_json", f"its content type {shown(content_type)} is disallowed (JSON only)")
    try:
        body = decode()
    except Exception as err:  # noqa: BLE001 - kombu raises whatever the JSON decoder or the charset raises
        return Poison("not_json", f"its body is not JSON ({type(err).__name__})")
    if not (isinstance(body, list) and len(body) == 3):
        return Poison("bad_body", f"its body {shown(body)} is not Celery's [args, kwargs, embed]")
    args, kwargs, embed = body
    if not (isinstance(args, list) and len(args) == 1 and isinstance(args[0], dict) and kwargs == {}):
        return Poison("bad_body", "its arguments are not one job object")
    if not isinstance(embed, dict) or any(embed.get(name) for name in LINKED):
        return Poison("bad_body", f"it links other tasks ({shown(embed)}); a job links none")
    return None


class Dropper:
    """What becomes of a message that is not a job: kept on the dead-letter list (`LRANGE
    captionbot:dead-letter:QUEUE 0 -1`, newest first, the newest DEAD_LETTER_KEEP), counted, logged in one line;
    a sender that waits on its (valid) id is answered `image_too_large` when that was what was wrong."""

    def __init__(self, app: Celery, queue: str, max_image_bytes: int, worker: str) -> None:
        self.app, self.key = app, dead_letter_key(queue)
        self.max_image_bytes, self.worker = max_image_bytes, worker

    def drop(self, found: Poison, headers: object, content_type: object, body: object) -> None:
        if found.kind == "too_large" and isinstance(headers, dict) and headers_poison(headers) is None:
            self._answer_too_large(headers["id"], found.image_bytes)
        kept = self._keep(found, headers, content_type, body)
        metrics.POISON.labels(found.kind).inc()
        log.warning("dropped a message that is not a job: %s%s", found.reason, f" (kept on {self.key})" if kept else "")

    def _keep(self, found: Poison, headers: object, content_type: object, body: object) -> bool:
        if isinstance(body, bytes | str):
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        else:
            text = "" if body is None else shown(body, KEPT_BODY_CHARS)
        entry = {
            "at": time.time(),
            "kind": found.kind,
            "reason": found.reason,
            "headers": {str(k): shown(v, 200) for k, v in headers.items()} if isinstance(headers, dict)
            else shown(headers, 200),
            "content_type": shown(content_type),
            "body": text[:KEPT_BODY_CHARS],
        }
        try:
            with self.app.backend.client.pipeline() as pipe:
                pipe.lpush(self.key, json.dumps(entry)).ltrim(self.key, 0, DEAD_LETTER_KEEP - 1).execute()
        except (redis.RedisError, OSError):
            log.warning("could not keep a dropped message on %s: Redis did not take it", self.key)
            return False
        return True

    def _answer_too_large(self, task_id: str, image_bytes: int) -> None:
        try:
            check_size(image_bytes, self.max_image_bytes)
            refusal = ImageTooLarge()
        except ImageTooLarge as err:
            refusal = err
        result = JobResult.failed(task_id, refusal, self.worker).model_dump(mode="json")
        try:
            self.app.backend.mark_as_done(task_id, result)
        except (redis.RedisError, OSError):
            log.warning("could not tell the sender of %s that its job is too large", task_id)
