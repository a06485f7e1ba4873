"""Bounded load, kept in Redis so every bot, CLI and worker process shares it: a cap on the jobs really
waiting or in flight, an early "busy" when the wait would outlast the sender, and a per-user token bucket.

The depth is measured, never kept as a running count, so nothing can drift. Waiting jobs are the larger of
the broker's own list (what really waits, stale messages included) and the admitted set (one entry per job
admitted and not yet taken by a worker, scored by its deadline: it also covers the instant before a message
lands in the list, and a sender that died before sending stops counting at its deadline). To that come the
jobs workers hold (`Ledger`: taking a job moves its entry from the admitted set to the in-flight set, also
scored by the deadline, so a job whose worker died stops counting once its sender gave up). A Redis restart
empties all three together. Each check is one Lua script, so concurrent senders never overshoot.

Workers also publish what they serve per second while busy, and how many jobs they take at once
(`publish_pace`). While the depth is below the jobs all workers take at once, a new job starts at once and is
admitted; beyond that the time until it is answered is the jobs ahead of it and itself, plus one batch (the
rest of the batch running when its turn comes, and its own batch, which it may have to fill; a batch is as many
as the workers take at once), divided by the sum of the rates. A job that would be answered after its sender
gives up is answered "busy" at once: admitting it would only make it expire in the queue.
"""

import time

import redis
import redis.asyncio as aioredis

from captionbot.core.errors import Busy, RateLimited, seconds_phrase
from captionbot.core.settings import Settings

# A pace older than this no longer describes its worker (gone, or idle since): it is left out of the sum.
RATE_MAX_AGE_S = 60.0

# KEYS: broker list, in-flight set, admitted set, paces hash.
# ARGV: now, cap, job id, sender's timeout, rate max age.
# Returns {verdict, depth, rate}: verdict 1 admitted, 0 over the cap, -1 the wait would outlast the sender.
ADMIT = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local depth = math.max(redis.call('LLEN', KEYS[1]), redis.call('ZCARD', KEYS[3])) + redis.call('ZCARD', KEYS[2])
local rate, slots = 0, 0
local paces = redis.call('HGETALL', KEYS[4])
for i = 1, #paces, 2 do
  local per_second, taken, at = string.match(paces[i + 1], '([^:]+):([^:]+):(.+)')
  if now - tonumber(at) <= tonumber(ARGV[5]) then
    rate = rate + tonumber(per_second)
    slots = slots + tonumber(taken)
  else redis.call('HDEL', KEYS[4], paces[i]) end
end
local verdict = 1
if depth >= tonumber(ARGV[2]) then verdict = 0
elseif rate > 0 and depth >= slots and (depth + 1 + slots) / rate > tonumber(ARGV[4]) then verdict = -1
else
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[3])
  redis.call('EXPIRE', KEYS[3], math.ceil(tonumber(ARGV[4])) + 60)
end
return {verdict, depth, tostring(rate)}
"""

# Token bucket: capacity = rate per minute, refilled continuously. Returns seconds to wait (0: allowed).
TAKE_TOKEN = """
local capacity = tonumber(ARGV[2])
local per_second = capacity / 60
local now = tonumber(ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + (now - at) * per_second)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / per_second end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], 120)
return tostring(wait)
"""


def inflight_key(queue_name: str) -> str:
    return f"captionbot:inflight:{queue_name}"


def admitted_key(queue_name: str) -> str:
    return f"captionbot:admitted:{queue_name}"


def paces_key(queue_name: str) -> str:
    return f"captionbot:paces:{queue_name}"


def depth_keys(queue_name: str) -> list[str]:
    """The broker's list (Celery's Redis transport names it after the queue) and the two sets beside it."""
    return [queue_name, inflight_key(queue_name), admitted_key(queue_name), paces_key(queue_name)]


class Admission:
    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self._client = client
        self._settings = settings
        self._admit = client.register_script(ADMIT)
        self._take = client.register_script(TAKE_TOKEN)

    async def admit(self, job_id: str, timeout: float) -> None:
        """Raises `Busy` when QUEUE_MAX_DEPTH jobs wait or run, or when the workers' recent pace says this one
        would not be answered within `timeout` seconds."""
        s = self._settings
        args = [time.time(), s.queue_max_depth, job_id, timeout, RATE_MAX_AGE_S]
        verdict, _, _ = await self._admit(keys=depth_keys(s.queue_name), args=args)
        if int(verdict) != 1:
            raise Busy()

    async def depth(self) -> int:
        """Jobs waiting or in flight, as admission counts them."""
        queue = self._settings.queue_name
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(inflight_key(queue), "-inf", time.time())
            pipe.zremrangebyscore(admitted_key(queue), "-inf", time.time())
            pipe.llen(queue).zcard(admitted_key(queue)).zcard(inflight_key(queue))
            _, _, listed, admitted, held = await pipe.execute()
        return max(listed, admitted) + held

    async def take_token(self, user_id: str) -> None:
        """Raises `RateLimited` when the user has spent USER_RATE_PER_MINUTE requests."""
        wait = float(await self._take(keys=[f"captionbot:rate:{user_id}"], args=[time.time(), self._settings.user_rate_per_minute]))
        if wait > 0:
            raise RateLimited(f"You are sending images faster than the captioner allows; try again in {seconds_phrase(wait)}.")


class Ledger:
    """A worker's side of the depth: the jobs it holds, and its pace. Blocking client (Celery's threads)."""

    def __init__(self, client: redis.Redis, queue_name: str, worker: str) -> None:
        self._client = client
        self._queue = queue_name
        self._worker = worker

    def hold(self, job_id: str, deadline: float | None, fallback_s: float) -> None:
        """The job is with this worker (no longer waiting) until `release`, or until its deadline (`fallback_s`
        from now without one) if the worker dies holding it."""
        until = deadline if deadline is not None else time.time() + fallback_s
        pipe = self._client.pipeline(transaction=True)
        pipe.zrem(admitted_key(self._queue), job_id).zadd(inflight_key(self._queue), {job_id: until}).execute()

    def release(self, job_id: str) -> None:
        self._client.zrem(inflight_key(self._queue), job_id)

    def publish_pace(self, per_second: float, slots: int) -> None:
        """Jobs answered per second while busy, and jobs taken at once (the worker's threads)."""
        self._client.hset(paces_key(self._queue), self._worker, f"{per_second:.4f}:{slots}:{time.time():.3f}")
