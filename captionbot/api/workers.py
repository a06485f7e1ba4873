"""Which workers serve this API's queue, checked every API_WORKER_PROBE_S in the background: a request is
answered "cannot be reached" (503) at once when none did at the latest check, instead of waiting for a check
or the job timeout, and `/healthz` and `/v1/models` read the latest answer rather than broadcasting on every
call.

A worker busy captioning can miss a broadcast's deadline, so one missed check does not make it gone: it
counts until it has been silent for `MISSED_CHECKS` checks in a row.
"""

import asyncio
import logging
import time
from dataclasses import dataclass, field

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from captionbot.core.control import BROADCAST_TIMEOUT_S, WorkerReply, serving_workers
from captionbot.core.errors import ServiceUnavailable

log = logging.getLogger(__name__)

MISSED_CHECKS = 3


@dataclass(frozen=True)
class WorkerSnapshot:
    workers: list[WorkerReply] = field(default_factory=list)
    checked_at: float = 0.0
    error: str | None = None  # why the check itself failed


class WorkerProbe:
    def __init__(self, app: Celery, queue_name: str, interval_s: float) -> None:
        self._app = app
        self._queue_name = queue_name
        self._interval_s = interval_s
        self._seen: dict[str, tuple[float, WorkerReply]] = {}  # worker -> (last answered, its last full reply)
        self._task: asyncio.Task | None = None
        self._recheck: asyncio.Task | None = None
        self.snapshot = WorkerSnapshot()

    async def start(self) -> None:
        """Check once before the API serves, then keep checking in the background."""
        snapshot = await self.check()
        error = f" ({snapshot.error})" if snapshot.error else ""
        log.info("workers serving queue %s: %d%s", self._queue_name, len(snapshot.workers), error)
        self._task = asyncio.create_task(self._keep_checking())

    async def check(self) -> WorkerSnapshot:
        now = time.time()
        try:
            replies = await asyncio.to_thread(serving_workers, self._app, self._queue_name)
        except (OperationalError, redis.RedisError, OSError) as err:
            self._seen.clear()
            self.snapshot = WorkerSnapshot(checked_at=now, error=f"Redis unreachable ({type(err).__name__})")
            return self.snapshot
        for reply in replies:
            if reply.status != "no_answer" or reply.worker not in self._seen:
                self._seen[reply.worker] = (now, reply)
            else:
                self._seen[reply.worker] = (now, self._seen[reply.worker][1])
        oldest = now - MISSED_CHECKS * (self._interval_s + 2 * BROADCAST_TIMEOUT_S)
        self._seen = {name: seen for name, seen in self._seen.items() if seen[0] >= oldest}
        workers = [reply for _, reply in sorted(self._seen.values(), key=lambda seen: seen[1].worker)]
        self.snapshot = WorkerSnapshot(workers=workers, checked_at=now)
        return self.snapshot

    async def _keep_checking(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            before = len(self.snapshot.workers)
            after = len((await self.check()).workers)
            if after != before:
                log.info("workers serving queue %s: %d (were %d)", self._queue_name, after, before)

    async def require_worker(self) -> None:
        """`ServiceUnavailable` at once when the latest check found no worker on the queue. That starts a check
        (one at a time, shared by every request that finds none), so a worker that has just started serves the
        next request rather than the one after the next periodic check."""
        if self.snapshot.workers:
            return
        if self._recheck is None or self._recheck.done():
            self._recheck = asyncio.create_task(self.check())
        raise ServiceUnavailable()

    async def stop(self) -> None:
        tasks = [task for task in (self._task, self._recheck) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
