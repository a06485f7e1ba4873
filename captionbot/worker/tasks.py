"""The caption task: a job in, a result out, as JSON. Failures a user can cause return as typed errors."""

import logging
import socket

from pydantic import ValidationError

from captionbot.core.errors import CaptionError, InvalidOptions
from captionbot.core.jobs import TASK_NAME, Job, JobResult
from captionbot.worker.app import app, service

log = logging.getLogger(__name__)


@app.task(name=TASK_NAME, bind=True)
def caption(self, job: dict) -> dict:
    worker = self.request.hostname or socket.gethostname()
    job_id = str(job.get("job_id", self.request.id)) if isinstance(job, dict) else str(self.request.id)
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
