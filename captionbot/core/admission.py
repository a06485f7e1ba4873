"""Bounded load, kept in Redis so every bot and CLI process shares it: a cap on jobs waiting for a worker,
and a per-user token bucket. Both are single Lua scripts, so concurrent senders never overshoot."""

import time

import redis.asyncio as aioredis

from captionbot.core.errors import Busy, RateLimited
from captionbot.core.settings import Settings

# Jobs admitted and not yet taken by a worker: a sorted set of job ids scored by admission time. Entries
# older than the job timeout (their sender gave up) are dropped first, so a lost job never holds a place.
ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[2]) + 60)
return 1
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


def waiting_key(queue_name: str) -> str:
    return f"captionbot:waiting:{queue_name}"


class Admission:
    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self._client = client
        self._settings = settings
        self._admit = client.register_script(ADMIT)
        self._take = client.register_script(TAKE_TOKEN)

    async def admit(self, job_id: str) -> None:
        """Raises `Busy` when QUEUE_MAX_DEPTH jobs already wait for a worker."""
        s = self._settings
        keys = [waiting_key(s.queue_name)]
        if not await self._admit(keys=keys, args=[time.time(), s.job_timeout_s, s.queue_max_depth, job_id]):
            raise Busy()

    async def take_token(self, user_id: str) -> None:
        """Raises `RateLimited` when the user has spent USER_RATE_PER_MINUTE requests."""
        wait = float(await self._take(keys=[f"captionbot:rate:{user_id}"], args=[time.time(), self._settings.user_rate_per_minute]))
        if wait > 0:
            raise RateLimited(f"You are sending images faster than the captioner allows; try again in {max(1, round(wait))} seconds.")
