"""The feedback service the bots use, against the real Redis and each database: a reply is kept in Redis only,
nothing reaches the database until someone reacts; votes count, change and are checked against the reply;
suggestions are cleaned and rate limited with the caption requests' token bucket."""

import asyncio

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from captionbot.core.admission import Admission
from captionbot.core.errors import RateLimited
from captionbot.feedback.service import (
    CHANGED,
    COUNTED,
    UNCHANGED,
    FeedbackService,
    ReplyExpired,
    WrongChoice,
    is_configured,
    open_feedback,
)
from captionbot.feedback.schema import Shown, StoredImage
from captionbot.feedback.shown import Place, ShownReplies
from captionbot.feedback.store import FeedbackStore
from captionbot.feedback.text import SuggestionRefused
from tests.feedback.conftest import PLACE, caption_reply, compare_reply


async def no_limit(user: str) -> None:
    return None


async def rows(store: FeedbackStore, table: type) -> int:
    async with store.sessions() as session:
        return await session.scalar(select(func.count()).select_from(table))


def test_feedback_is_off_unless_a_place_is_listed(feedback_settings):
    assert not is_configured(feedback_settings.model_copy(update={"feedback_discord_servers": []}))
    assert is_configured(feedback_settings)

    async def scenario():
        async with open_feedback(feedback_settings, no_limit) as feedback:
            return (
                feedback.enabled(PLACE),
                feedback.enabled(Place("discord", "other", "222")),
                feedback.enabled(Place("slack", PLACE.server_id, "222")),
            )

    assert asyncio.run(scenario()) == (True, False, False)


def test_a_reply_waits_in_redis_and_reaches_the_database_with_its_first_vote(feedback_settings):
    async def scenario():
        async with open_feedback(feedback_settings, no_limit) as feedback:
            reply = caption_reply()
            token = await feedback.offer(reply)
            ttl = await feedback.replies._client.ttl(ShownReplies.key(token))
            before = await rows(feedback.store, Shown), await rows(feedback.store, StoredImage)
            answers = [
                await feedback.vote(token, "discord", "42", "up"),
                await feedback.vote(token, "discord", "42", "up"),
                await feedback.vote(token, "discord", "42", "down"),
            ]
            after = await rows(feedback.store, Shown), await rows(feedback.store, StoredImage)
            models = await feedback.store.reply_models(token)
            return ttl, before, answers, after, models

    ttl, before, answers, after, models = asyncio.run(scenario())
    assert 0 < ttl <= feedback_settings.feedback_vote_window_h * 3600
    assert before == (0, 0)
    assert answers == [COUNTED, UNCHANGED, CHANGED]
    assert after == (1, 1)
    assert models["finetuned"].captions == ["a red square"]


def test_votes_must_fit_the_reply_and_an_unknown_reply_has_expired(feedback_settings):
    async def scenario():
        async with open_feedback(feedback_settings, no_limit) as feedback:
            compare, single = await feedback.offer(compare_reply()), await feedback.offer(caption_reply())
            outcomes = []
            for token, value in ((compare, "up"), (single, "finetuned"), ("0" * 32, "up")):
                try:
                    await feedback.vote(token, "discord", "42", value)
                except (WrongChoice, ReplyExpired) as err:
                    outcomes.append(type(err))
            outcomes.append(await feedback.vote(compare, "discord", "42", "finetuned"))
            return outcomes

    assert asyncio.run(scenario()) == [WrongChoice, WrongChoice, ReplyExpired, COUNTED]


def test_suggestions_are_cleaned_and_spend_the_users_request_tokens(feedback_settings, redis_url):
    settings = feedback_settings.model_copy(update={"user_rate_per_minute": 2})

    async def scenario():
        client = aioredis.Redis.from_url(redis_url)
        admission = Admission(client, settings)
        try:
            async with open_feedback(settings, admission.take_token) as feedback:
                token = await feedback.offer(caption_reply())
                with pytest.raises(SuggestionRefused):
                    await feedback.suggest(token, "slack", "U1", "<!channel> look")
                await feedback.suggest(token, "slack", "U1", "  a   red\nsquare on white ")
                await feedback.suggest(token, "slack", "U1", "a red square, centred")
                with pytest.raises(RateLimited):
                    await feedback.suggest(token, "slack", "U1", "a third one too fast")
                return await feedback.store.suggestions()
        finally:
            await client.delete("captionbot:rate:slack:U1")
            await client.aclose()

    (stored,) = asyncio.run(scenario())
    assert stored.text == "a red square, centred"


def test_forget_by_platform_and_id_finds_the_hashed_user(feedback_settings):
    async def scenario():
        async with open_feedback(feedback_settings, no_limit) as feedback:
            token = await feedback.offer(caption_reply())
            await feedback.vote(token, "discord", "42", "up")
            await feedback.vote(token, "discord", "43", "down")
            wrong_platform = await feedback.forget("slack", "42")
            forgotten = await feedback.forget("discord", "42")
            return wrong_platform, forgotten, (await feedback.store.counts()).votes

    assert asyncio.run(scenario()) == ((0, 0), (1, 0), {"down": 1})


def test_the_service_refuses_to_start_without_a_user_key(feedback_settings):
    from captionbot.feedback.identity import MissingUserKey

    settings = feedback_settings.model_copy(update={"feedback_user_key": None})
    with pytest.raises(MissingUserKey, match="FEEDBACK_USER_KEY"):
        FeedbackService(settings, None, None, no_limit)


def test_each_vote_refreshes_the_prometheus_gauges(feedback_settings):
    from prometheus_client import REGISTRY

    async def scenario():
        async with open_feedback(feedback_settings, no_limit) as feedback:
            token = await feedback.offer(caption_reply(version="v-metrics"))
            await feedback.vote(token, "discord", "1", "up")
            await feedback.vote(token, "discord", "2", "down")

    asyncio.run(scenario())
    labels = {"model": "finetuned", "version": "v-metrics"}
    assert REGISTRY.get_sample_value("captionbot_feedback_votes", {**labels, "vote": "up"}) == 1
    assert REGISTRY.get_sample_value("captionbot_feedback_approval_ratio", {**labels, "bound": "share"}) == 0.5
    low = REGISTRY.get_sample_value("captionbot_feedback_approval_ratio", {**labels, "bound": "low"})
    assert low == pytest.approx(0.0945, abs=1e-4)


def test_feedback_can_be_on_for_a_channel_and_the_threads_in_it(feedback_settings):
    settings = feedback_settings.model_copy(
        update={"feedback_discord_servers": [], "feedback_slack_channels": ["C0PHOTOS"]}
    )

    async def scenario():
        async with open_feedback(settings, no_limit) as feedback:
            return (
                feedback.enabled(Place("slack", "T1", "C0PHOTOS")),
                feedback.enabled(Place("slack", "T1", "C0THREAD"), "C0PHOTOS"),
                feedback.enabled(Place("slack", "T1", "C0OTHER")),
                feedback.enabled(Place("discord", None, "C0PHOTOS")),
            )

    assert asyncio.run(scenario()) == (True, True, False, False)
