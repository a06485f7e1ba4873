"""The caption task: a job in, a result out, as JSON. Failures a user can cause return as typed errors."""

import logging
import socket

import redis
from pydantic import ValidationError

from captionbot.core.admission import waiting_key
from captionbot.core.errors import CaptionError, InvalidOptions
from captionbot.core.jobs import TASK_NAME, Job, JobResult
from captionbot.core.settings import get_settings
from captionbot.worker.app import app, service

log = logging.getLogger(__name__)


@app.task(name=TASK_NAME, bind=True)
def caption(self, job: dict) -> dict:
    worker = self.request.hostname or socket.gethostname()
    job_id = str(job.get("job_id", self.request.id)) if isinstance(job, dict) else str(self.request.id)
    answered = _already_answered(self.request.id)
    if answered is not None:
        # Delivered again (its first worker died after storing the result): answer once, never recompute.
        log.info("job %s was already answered; not captioning it again", job_id)
        return answered
    _leave_waiting_line(job_id)
    try:
        parsed = Job.model_validate(job)
    except ValidationError as err:
        log.warning("job %s refused: %s", job_id, err.errors()[0]["msg"])
        failure = InvalidOptions("The request was malformed or its options out of range; check them and try again.")
        return JobResult.failed(job_id, failure, worker).model_dump(mode="json")
    try:
        result = service.engine.run(parsed)
    except Exception:  # noqa: BLE001 - the user gets a sentence; the log keeps the traceback
        log.exception("job %s failed", job_id)
        result = JobResult.failed(job_id, CaptionError(), worker)
    result.worker = worker
    return result.model_dump(mode="json")


def _already_answered(task_id: str) -> dict | None:
    try:
        meta = app.backend.get_task_meta(task_id)
    except (redis.RedisError, OSError):
        return None
    return meta.get("result") if meta.get("status") == "SUCCESS" else None


def _leave_waiting_line(job_id: str) -> None:
    """The job is with a worker now: it no longer counts against QUEUE_MAX_DEPTH."""
    try:
        app.backend.client.zrem(waiting_key(get_settings().queue_name), job_id)
    except (redis.RedisError, OSError):
        log.warning("could not update the waiting count for job %s", job_id)
