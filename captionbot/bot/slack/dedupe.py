"""One image, one answer: Slack retries an event it did not see acknowledged within 3 s (`x-slack-retry-num`),
and one upload can arrive twice (a `message` event and an `app_mention` for the same post). The first delivery
claims a key in Redis (SET NX EX), so a repeat is recognised by any bot process, also after a restart."""

import logging
from collections.abc import Awaitable, Callable

import redis
import redis.asyncio as aioredis
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)

# Slack retries a delivery three times within about five minutes; an hour leaves room for a bot restart.
EVENT_TTL_S = 3600
FILE_TTL_S = 3600
PREFIX = "captionbot:slack"


class Dedupe:
    def __init__(self, store: aioredis.Redis) -> None:
        self._store = store

    async def first_event(self, event_id: str) -> bool:
        return await self._claim(f"{PREFIX}:event:{event_id}", EVENT_TTL_S)

    async def first_file(self, channel_id: str, file_id: str) -> bool:
        return await self._claim(f"{PREFIX}:file:{channel_id}:{file_id}", FILE_TTL_S)

    async def _claim(self, key: str, ttl_s: int) -> bool:
        """True for the first claim of `key`. Without Redis, every claim wins: a repeat answer beats none."""
        try:
            return bool(await self._store.set(key, "1", nx=True, ex=ttl_s))
        except (redis.RedisError, OSError) as err:
            log.warning("could not reach Redis to deduplicate %s (%s); handling it anyway", key, type(err).__name__)
            return True


def skip_repeated_events(dedupe: Dedupe) -> Callable[..., Awaitable[BoltResponse | None]]:
    """A global middleware: an event already claimed is acknowledged and goes no further."""

    async def skip_repeated_events(
        body: dict, request: AsyncBoltRequest, ack: Callable, next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        event_id = body.get("event_id")
        if body.get("type") == "event_callback" and event_id and not await dedupe.first_event(event_id):
            retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]
            log.info("event %s already handled (delivery retry %s): skipped", event_id, retry)
            return await ack()
        await next()
        return None

    return skip_repeated_events
