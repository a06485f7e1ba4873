"""The caption task: a job in, a result out, as JSON. Failures a user can cause return as typed errors.

A job past its deadline is answered `expired` and never computed: Celery discards one whose `expires` passed
before it arrived (`_count_discarded`), the task checks again as a thread takes it, the batcher once more
just before its batch runs. While a thread holds a job it counts in the queue's depth (`Ledger`), and the
worker's pace while busy is published for admission to divide that depth by.
"""

import functools
import logging
import socket

import redis
from celery.signals import task_revoked
from pydantic import ValidationError

from captionbot.core.admission import Ledger
from captionbot.core.errors import CaptionError, Expired, InvalidOptions
from captionbot.core.jobs import TASK_NAME, Job, JobResult
from captionbot.core.settings import get_settings
from captionbot.worker import metrics
from captionbot.worker.app import app, service
from captionbot.worker.pace import Pace

log = logging.getLogger(__name__)


@app.task(name=TASK_NAME, bind=True)
def caption(self, job: dict) -> dict:
    worker = self.request.hostname or socket.gethostname()
    job_id = self.request.id  # checked against JOB_ID before Celery read the message (poison.py); the body's is not yet
    answered = _already_answered(self.request.id)
    if answered is not None:
        # Delivered again (its first worker died after storing the result): answer once, never recompute.
        log.info("job %s was already answered; not captioning it again", job_id)
        return answered
    try:
        parsed = Job.model_validate(job)
    except ValidationError as err:
        log.warning("job %s refused: %s", job_id, err.errors()[0]["msg"])
        failure = InvalidOptions("The request was malformed or its options out of range; check them and try again.")
        return JobResult.failed(job_id, failure, worker).model_dump(mode="json")
    if parsed.expired():
        log.info("job %s expired before it started; not captioning it", job_id)
        _count_expired("start")
        return JobResult.failed(job_id, Expired(), worker).model_dump(mode="json")
    result = _run(parsed, worker)
    result.worker = worker
    return result.model_dump(mode="json")


def _run(job: Job, worker: str) -> JobResult:
    ledger, pace = _books(worker)
    _quietly(ledger.hold, job.job_id, job.deadline, get_settings().job_timeout_s)
    pace.begin()
    result = None
    try:
        result = service.engine.run(job)
    except Exception:  # noqa: BLE001 - the user gets a sentence; the log keeps the traceback
        log.exception("job %s failed", job.job_id)
        result = JobResult.failed(job.job_id, CaptionError(), worker)
    finally:
        pace.end(computed=result is not None and result.error is None)
        _quietly(ledger.release, job.job_id)
        rate = pace.due()
        if rate is not None:
            _quietly(ledger.publish_pace, rate, app.conf.worker_concurrency)
    return result


@functools.cache
def _books(worker: str) -> tuple[Ledger, Pace]:
    return Ledger(app.backend.client, get_settings().queue_name, worker), Pace()


def _quietly(method, *args) -> None:  # noqa: ANN001
    """Bookkeeping in Redis must never fail a job: without it, admission only counts less for a while."""
    try:
        method(*args)
    except (redis.RedisError, OSError):
        log.warning("could not update the queue's depth or pace in Redis")


def _count_expired(stage: str) -> None:
    metrics.EXPIRED.labels(stage).inc()
    metrics.JOBS.labels(Expired.code).inc()


@task_revoked.connect
def _count_discarded(sender: object = None, expired: bool = False, **_: object) -> None:
    """Celery answered a job whose `expires` had passed when it arrived (state REVOKED) without running it."""
    if expired:
        _count_expired("delivery")


def _already_answered(task_id: str) -> dict | None:
    try:
        meta = app.backend.get_task_meta(task_id)
    except (redis.RedisError, OSError):
        return None
    return meta.get("result") if meta.get("status") == "SUCCESS" else None
