"""The queue client: send a job to the workers by task name and await its result.

Senders never import the worker: `send_task` names the task. `caption` awaits the result from asyncio on the
Redis result backend's own publish channel (and looks at the stored result once more when the wait ends, in
case a busy loop read the channel late), so a bot's event loop is never blocked; `caption_sync` is the
blocking twin for scripts. Every job carries the deadline its sender waits until, also as Celery's `expires`:
no worker computes it after that.
"""

import asyncio
import logging
import time
from datetime import UTC, datetime

import redis
import redis.asyncio as aioredis
from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeoutError
from kombu.exceptions import OperationalError

from captionbot.core.admission import Admission
from captionbot.core.celery_config import make_celery
from captionbot.core.errors import CaptionError, Expired, ServiceUnavailable, TimedOut
from captionbot.core.jobs import TASK_NAME, Job, JobResult
from captionbot.core.settings import Settings

log = logging.getLogger(__name__)

_SEND_RETRY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.5, "interval_max": 1.0}


class CaptionQueue:
    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self.settings = settings
        self.app = app or make_celery(settings)
        self._client: aioredis.Redis | None = None
        self._waiter: _ResultWaiter | None = None
        self._admission: Admission | None = None

    def send(self, job: Job) -> None:
        """Put a job on the queue (blocking; a few ms). `ServiceUnavailable` when Redis cannot be reached."""
        expires = datetime.fromtimestamp(job.deadline, UTC) if job.deadline is not None else None
        try:
            self.app.send_task(
                TASK_NAME,
                args=[job.wire()],
                task_id=job.job_id,
                queue=self.settings.queue_name,
                expires=expires,
                retry=True,
                retry_policy=_SEND_RETRY,
            )
        except (OperationalError, redis.RedisError, OSError) as err:
            raise ServiceUnavailable() from err

    async def check_user(self, user_id: str) -> None:
        """Spend one of the user's requests; `RateLimited` when none is left this minute."""
        try:
            await self._parts()[1].take_token(user_id)
        except (redis.RedisError, OSError) as err:
            raise ServiceUnavailable() from err

    async def caption(self, job: Job, timeout: float | None = None) -> JobResult:
        """Send a job and await its result without blocking the event loop. `Busy` beyond QUEUE_MAX_DEPTH or
        when the workers' pace says it would not be answered within `timeout` (default JOB_TIMEOUT_S)."""
        timeout = self.settings.job_timeout_s if timeout is None else timeout
        job = with_deadline(job, timeout)
        waiter, admission = self._parts()
        try:
            await admission.admit(job.job_id, timeout)
        except (redis.RedisError, OSError) as err:
            raise ServiceUnavailable() from err
        async with waiter.watch(job.job_id, job.deadline) as result:
            await asyncio.to_thread(self.send, job)
            meta = await result
        return _job_result(job.job_id, meta)

    async def depth(self) -> int:
        """Jobs waiting for a worker or in flight, as admission counts them."""
        return await self._parts()[1].depth()

    def _parts(self) -> "tuple[_ResultWaiter, Admission]":
        if self._client is None:
            # A blocking pool: a burst of callers waits for a free connection instead of failing.
            pool = aioredis.BlockingConnectionPool.from_url(
                self.settings.redis_url.get_secret_value(), max_connections=32, timeout=10, socket_connect_timeout=5
            )
            self._client = aioredis.Redis(connection_pool=pool)
            self._waiter = _ResultWaiter(self.app, self._client)
            self._admission = Admission(self._client, self.settings)
        return self._waiter, self._admission

    def caption_sync(self, job: Job, timeout: float | None = None) -> JobResult:
        """Send a job and block until its result (no admission check): `TimedOut` after `timeout` seconds."""
        timeout = self.settings.job_timeout_s if timeout is None else timeout
        job = with_deadline(job, timeout)
        self.send(job)
        async_result = self.app.AsyncResult(job.job_id)
        try:
            async_result.get(timeout=timeout, propagate=False, interval=0.05)
        except CeleryTimeoutError as err:
            raise TimedOut() from err
        except (OperationalError, redis.RedisError, OSError) as err:
            raise ServiceUnavailable() from err
        return _job_result(job.job_id, {"status": async_result.state, "result": async_result.result})

    async def aclose(self) -> None:
        if self._client is not None:
            await self._waiter.aclose()
            await self._client.aclose(close_connection_pool=True)
            self._client = self._waiter = self._admission = None


def with_deadline(job: Job, timeout: float) -> Job:
    """The job stamped with when its sender stops waiting (kept if it has one already)."""
    return job if job.deadline is not None else job.model_copy(update={"deadline": time.time() + timeout})


def _job_result(job_id: str, meta: dict) -> JobResult:
    if meta.get("status") == "REVOKED":  # Celery discarded it on arrival: its `expires` had passed
        return JobResult.failed(job_id, Expired())
    if meta.get("status") != "SUCCESS" or not isinstance(meta.get("result"), dict):
        log.error("job %s ended in state %s", job_id, meta.get("status"))
        return JobResult.failed(job_id, CaptionError())
    return JobResult.model_validate(meta["result"])


class _ResultWaiter:
    """Awaits Celery results on the Redis backend: the backend publishes each result on a channel named by
    its key, so one subscription per job, read by one reader task, wakes exactly the caller that waits."""

    def __init__(self, app: Celery, client: aioredis.Redis) -> None:
        self._backend = app.backend
        self._client = client
        self._pubsub = client.pubsub()
        self._futures: dict[str, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None
        # redis-py's PubSub opens its connection lazily: concurrent first subscribes would open several.
        self._commands = asyncio.Lock()

    def watch(self, task_id: str, deadline: float) -> "_Watch":
        return _Watch(self, task_id, deadline)

    async def _subscribe(self, task_id: str) -> tuple[str, asyncio.Future]:
        key = self._backend.get_key_for_task(task_id).decode()
        future = asyncio.get_running_loop().create_future()
        self._futures[key] = future
        try:
            async with self._commands:
                await self._pubsub.subscribe(key)
        except (redis.RedisError, OSError) as err:
            self._futures.pop(key, None)
            raise ServiceUnavailable() from err
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read())
        return key, future

    async def _result(self, key: str, future: asyncio.Future, deadline: float) -> dict:
        """The stored result: looked up once (it may have been stored before the subscription took effect),
        else awaited on the channel until `deadline`, then looked up once more (a busy event loop may read the
        channel late, and a result stored in time still answers). `TimedOut` when there is none."""
        try:
            payload = await self._client.get(key)
        except (redis.RedisError, OSError) as err:
            raise ServiceUnavailable() from err
        if payload is None:
            try:
                payload = await asyncio.wait_for(future, max(0.0, deadline - time.time()))
            except asyncio.TimeoutError as err:
                payload = await self._last_look(key)
                if payload is None:
                    raise TimedOut() from err
        return self._backend.decode_result(payload)

    async def _last_look(self, key: str) -> bytes | None:
        try:
            return await self._client.get(key)
        except (redis.RedisError, OSError):
            return None  # the wait is over either way: the sender is told it timed out

    async def _unsubscribe(self, key: str) -> None:
        self._futures.pop(key, None)
        try:
            async with self._commands:
                await self._pubsub.unsubscribe(key)
        except (redis.RedisError, OSError):
            log.debug("could not unsubscribe from %s", key)

    async def _read(self) -> None:
        while self._futures:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except (redis.RedisError, OSError) as err:
                await self._fail_all(err)
                return
            if message is None:
                continue
            channel = message["channel"]
            future = self._futures.get(channel.decode() if isinstance(channel, bytes) else channel)
            if future is not None and not future.done():
                future.set_result(message["data"])

    async def _fail_all(self, err: Exception) -> None:
        for future in self._futures.values():
            if not future.done():
                future.set_exception(ServiceUnavailable())
        log.warning("lost the result channel: %s", type(err).__name__)
        async with self._commands:
            # Close the broken one, or its connection is never handed back to the pool.
            broken, self._pubsub = self._pubsub, self._client.pubsub()
            await broken.aclose()

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self._pubsub.aclose()


class _Watch:
    """Subscribe before sending, so a result published before we listen is never missed."""

    def __init__(self, waiter: _ResultWaiter, task_id: str, deadline: float) -> None:
        self._waiter = waiter
        self._task_id = task_id
        self._deadline = deadline
        self._key = ""
        self._result: asyncio.Future[dict] | None = None

    async def __aenter__(self) -> "asyncio.Future[dict]":
        self._key, future = await self._waiter._subscribe(self._task_id)
        self._result = asyncio.ensure_future(self._waiter._result(self._key, future, self._deadline))
        return self._result

    async def __aexit__(self, *exc: object) -> None:
        self._result.cancel()  # still waiting only when sending failed; nothing once done
        await self._waiter._unsubscribe(self._key)
