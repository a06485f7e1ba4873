"""A pause per user between the commands that queue a caption job (COMMAND_COOLDOWN_S; 0 turns it off),
kept in Redis so every bot process shares it. The per-minute rate limit itself is the service's."""

import logging
import math

import redis
import redis.asyncio as aioredis

from captionbot.bot import messages
from captionbot.core.errors import RateLimited

log = logging.getLogger(__name__)


class Cooldown:
    def __init__(self, store: aioredis.Redis, seconds: float) -> None:
        self._store = store
        self._ms = int(seconds * 1000)

    async def check(self, user_id: str) -> None:
        """Start the user's pause, or raise `RateLimited` saying how long is left of it."""
        if self._ms <= 0:
            return
        key = f"captionbot:slack:cooldown:{user_id}"
        try:
            if await self._store.set(key, "1", nx=True, px=self._ms):
                return
            left_ms = await self._store.pttl(key)
        except (redis.RedisError, OSError) as err:
            log.warning(
                "could not reach Redis for the command cooldown (%s); letting the command through", type(err).__name__
            )
            return
        raise RateLimited(messages.COOLDOWN.format(seconds=max(1, math.ceil(left_ms / 1000))))
