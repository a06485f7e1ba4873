"""Jobs expire: a job past the deadline its sender waits until is answered `expired` and never captioned,
whether it arrives late, is taken late, or is delivered again after its worker died."""

import asyncio
import signal
import time
import uuid

from captionbot.core.jobs import TASK_NAME, Job
from captionbot.core.queue import CaptionQueue
from tests.fixtures.services import WorkerProcess, service_env, settings_from
from tests.integration.test_queue import png


def test_a_job_past_its_expiry_is_discarded_on_arrival(worker):
    queue = CaptionQueue(worker.settings)
    job = Job(image=png(), deadline=time.time() - 1)
    result = queue.caption_sync(job, timeout=30)
    assert result.error["code"] == "expired"
    assert f"Discarding revoked task: {TASK_NAME}[{job.job_id}]" in wait_for_log(worker, job.job_id)


def test_a_job_taken_after_its_deadline_is_answered_expired_without_captioning(worker):
    """Sent without Celery's `expires` (an older sender): the task itself checks the deadline."""
    queue = CaptionQueue(worker.settings)
    job = Job(image=png(), deadline=time.time() - 1)
    queue.app.send_task(TASK_NAME, args=[job.wire()], task_id=job.job_id, queue=worker.settings.queue_name)
    result = queue.app.AsyncResult(job.job_id).get(timeout=30)
    assert result["error"]["code"] == "expired" and result["results"] == {}
    assert f"job {job.job_id} expired before it started" in wait_for_log(worker, job.job_id)


def wait_for_log(worker: WorkerProcess, text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while text not in worker.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    return worker.log_text()


def test_a_job_delivered_again_is_captioned_only_if_its_sender_still_waits(service_values, tmp_path):
    values = {**service_values, "QUEUE_NAME": f"redeliver-{uuid.uuid4().hex[:8]}", "VISIBILITY_TIMEOUT_S": "5"}
    settings = settings_from(values)
    # The first worker holds every job in its batcher: received, unacknowledged, in flight when it is killed.
    holding = WorkerProcess(settings, service_env({**values, "BATCH_MAX_WAIT_MS": "30000", "BATCH_MAX_SIZE": "64"}), tmp_path / "a.log")
    holding.start()
    queue = CaptionQueue(settings)
    short = [Job(image=png((200, 0, i * 40)), deadline=time.time() + 3) for i in range(3)]
    waiting = [Job(image=png((0, 200, i * 40))) for i in range(3)]

    async def scenario():
        try:
            for job in short:
                await asyncio.to_thread(queue.send, job)
            pending = [asyncio.create_task(queue.caption(job, timeout=120)) for job in waiting]
            while holding.log_text().count("received") < len(short) + len(waiting):
                await asyncio.sleep(0.1)
            holding.stop(signal.SIGKILL)
            await asyncio.sleep(max(0.0, short[0].deadline - time.time()))
            successor = WorkerProcess(settings, service_env(values), tmp_path / "b.log").start()
            try:
                results = await asyncio.gather(*pending)
                for job in short:
                    wait_for_log(successor, f"[{job.job_id}]")
                return results, successor.log_text()
            finally:
                successor.stop()
        finally:
            await queue.aclose()

    results, successor_log = asyncio.run(scenario())
    assert all(r.error is None and r.results for r in results)
    for job in short:
        assert f"Discarding revoked task: {TASK_NAME}[{job.job_id}]" in successor_log
        assert f"Task {TASK_NAME}[{job.job_id}] succeeded" not in successor_log
        assert queue.app.AsyncResult(job.job_id).state == "REVOKED"
