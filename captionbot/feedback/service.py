"""What the bots ask of feedback: is it on here, keep a reply for its buttons, count a vote, store a suggestion.
One `FeedbackService` per bot process; platform code renders the buttons and the answers."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from sqlalchemy.exc import SQLAlchemyError

from captionbot.core.settings import Settings
from captionbot.feedback import metrics
from captionbot.feedback.identity import UserHasher
from captionbot.feedback.shown import Place, ShownReplies, ShownReply
from captionbot.feedback.store import FeedbackStore
from captionbot.feedback.text import clean_suggestion

log = logging.getLogger(__name__)

UP, DOWN = "up", "down"
VOTES = (UP, DOWN)
COUNTED, CHANGED, UNCHANGED = "counted", "changed", "unchanged"
PURGE_EVERY_S = 24 * 3600
RETRY_FIRST_S, RETRY_MAX_S = 2.0, 60.0  # between tries of a feedback database that did not answer at start
UNREACHABLE_DB = (SQLAlchemyError, OSError)


class ReplyExpired(LookupError):
    """Nobody reacted to the reply within FEEDBACK_VOTE_WINDOW_H, so nothing about it was kept."""


class WrongChoice(ValueError):
    """A vote that does not fit the reply (👍 on /compare, a model it did not show): a forged or stale button."""


def enabled_places(settings: Settings) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """platform -> (servers, channels) where feedback is on."""
    return {
        "discord": (frozenset(settings.feedback_discord_servers), frozenset(settings.feedback_discord_channels)),
        "slack": (frozenset(settings.feedback_slack_workspaces), frozenset(settings.feedback_slack_channels)),
    }


class FeedbackService:
    def __init__(
        self,
        settings: Settings,
        store: FeedbackStore,
        replies: ShownReplies,
        check_user: Callable[[str], Awaitable[None]],
    ) -> None:
        """`check_user`: spends one token of the user's request bucket (the one caption requests use), or raises
        `RateLimited`."""
        self.store = store
        self.replies = replies
        self.hash_user = UserHasher.from_settings(settings)
        self.check_user = check_user
        self._places = enabled_places(settings)

    def enabled(self, place: Place, *parents: str | None) -> bool:
        """On for the place's server or channel (or a channel it belongs to, for a thread)."""
        servers, channels = self._places.get(place.platform, (frozenset(), frozenset()))
        return place.server_id in servers or any(c in channels for c in (place.channel_id, *parents) if c)

    async def offer(self, reply: ShownReply) -> str:
        """Keep the reply (in Redis, not the database) for its buttons; returns the token they carry."""
        return await self.replies.keep(reply)

    async def _reply_for(self, token: str) -> tuple[ShownReply | None, dict]:
        """(the reply to record, None when recorded already; the models it showed), or `ReplyExpired`."""
        models = await self.store.reply_models(token)
        if models is not None:
            return None, models
        reply = await self.replies.find(token)
        if reply is None:
            raise ReplyExpired(token)
        return reply, reply.models

    async def vote(self, token: str, platform: str, user_id: str, value: str) -> str:
        """👍/👎, or on /compare the model preferred; one per user per reply. Returns COUNTED, CHANGED or UNCHANGED."""
        reply, models = await self._reply_for(token)
        allowed = tuple(models) if len(models) > 1 else VOTES
        if value not in allowed:
            raise WrongChoice(value)
        before = await self.store.vote(token, reply, self.hash_user(platform, user_id), value)
        await metrics.refresh(self.store)
        if before is None:
            return COUNTED
        return UNCHANGED if before == value else CHANGED

    async def suggest(self, token: str, platform: str, user_id: str, text: str) -> None:
        """Raises `SuggestionRefused` (with its reason), `RateLimited` or `ReplyExpired`."""
        cleaned = clean_suggestion(text)
        await self.check_user(f"{platform}:{user_id}")
        reply, _ = await self._reply_for(token)
        await self.store.suggest(token, reply, self.hash_user(platform, user_id), cleaned)

    async def forget(self, platform: str, user_id: str) -> tuple[int, int]:
        return await self.store.forget(self.hash_user(platform, user_id))


def is_configured(settings: Settings) -> bool:
    return any(servers or channels for servers, channels in enabled_places(settings).values())


@asynccontextmanager
async def open_feedback(
    settings: Settings, check_user: Callable[[str], Awaitable[None]]
) -> AsyncIterator[FeedbackService | None]:
    """The service while it is open; None (and nothing opened) where feedback is on nowhere.

    A database that does not answer at start does not stop the bot: captions go on, and every vote, suggestion
    and review answers that feedback is unavailable (`DatabaseNotReady`) while the database is tried again in the
    background, until it answers and is migrated."""
    if not is_configured(settings):
        yield None
        return
    store = FeedbackStore.unmigrated(settings)
    client = aioredis.Redis.from_url(settings.redis_url.get_secret_value())
    where = store.engine.url.render_as_string(hide_password=True)
    refusal = await _migrate(store)
    if refusal is None:
        log.info("feedback is on; database %s", where)
        await upkeep(store, settings.feedback_retention_days)
        keeping = asyncio.create_task(purge_daily(store, settings.feedback_retention_days))
    else:
        keeping = asyncio.create_task(migrate_when_up(store, settings.feedback_retention_days, where, refusal))
    try:
        replies = ShownReplies(client, settings.feedback_vote_window_h * 3600)
        yield FeedbackService(settings, store, replies, check_user)
    finally:
        keeping.cancel()
        with suppress(asyncio.CancelledError):
            await keeping  # a purge under way ends before its database closes
        await client.aclose()
        await store.aclose()


async def _migrate(store: FeedbackStore) -> str | None:
    """None once the schema is current; else why the database did not take it (the error's type: a message
    could carry the URL)."""
    try:
        await store.migrate()
    except UNREACHABLE_DB as err:
        return type(err).__name__
    return None


async def migrate_when_up(store: FeedbackStore, retention_days: int, where: str, refusal: str) -> None:
    """Try the database again, ever less often (RETRY_FIRST_S doubling to RETRY_MAX_S), until it answers; then
    keep it as `open_feedback` does."""
    delay = RETRY_FIRST_S
    while refusal is not None:
        log.warning("feedback database %s does not answer (%s): captions go on, and votes, suggestions and "
                    "/feedback answer that feedback is unavailable; trying again in %.0f s", where, refusal, delay)
        await asyncio.sleep(delay)
        delay = min(2 * delay, RETRY_MAX_S)
        refusal = await _migrate(store)
    log.info("feedback database %s answers; feedback is on", where)
    await upkeep(store, retention_days)
    await purge_daily(store, retention_days)


async def upkeep(store: FeedbackStore, retention_days: int) -> None:
    """What a bot does once its database answers: purge what is past retention, export the approval gauges."""
    await purge_expired(store, retention_days)
    try:
        await metrics.refresh(store)
    except UNREACHABLE_DB:
        log.warning("the approval gauges were not refreshed: the feedback database did not answer")


async def purge_expired(store: FeedbackStore, retention_days: int) -> None:
    try:
        votes, suggestions = await store.purge(datetime.now(UTC) - timedelta(days=retention_days))
    except UNREACHABLE_DB:
        log.exception("feedback purge failed; trying again in a day")
        return
    if votes or suggestions:
        log.info("purged %d vote(s), %d suggestion(s) older than %d days", votes, suggestions, retention_days)


async def purge_daily(store: FeedbackStore, retention_days: int) -> None:
    """FEEDBACK_RETENTION_DAYS kept by the bots themselves: at start (`upkeep`), then once a day."""
    while True:
        await asyncio.sleep(PURGE_EVERY_S)
        await purge_expired(store, retention_days)
