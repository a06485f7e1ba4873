"""Every failure gets a sentence that says what happened and what to do: to the user alone (ephemeral) where
Slack allows, and the working reaction is taken off either way."""

import asyncio
import io

import redis.asyncio as aioredis
from PIL import Image
from pydantic import SecretStr

from captionbot.bot import messages
from captionbot.core.errors import Busy, ServiceUnavailable, TimedOut
from tests.bot.slack.harness import CHANNEL, MEMBER, harness, image


def run(coro):
    return asyncio.run(coro)


def truncated_png() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((256, 256), 60).convert("RGB").save(out, format="PNG")
    return out.getvalue()[:2000]


def test_refused_images_are_told_why_and_what_is_accepted(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            huge = h.slack.add_file(image(), "huge.png", size=40 * 1024 * 1024, channels=(CHANNEL,))
            heic = h.slack.add_file(b"\0\0\0\x18ftypheic", "phone.heic", "image/heic", channels=(CHANNEL,))
            for listed in (huge, heic):
                await h.dispatch(h.command("/caption", listed["permalink"]))
                await h.settle()
            await h.dispatch(h.shared([h.slack.add_file(truncated_png(), "cut.png")]))
            await h.settle()
            return h.slack

    slack = run(scenario())
    too_large, unsupported = (r["text"] for r in slack.responses)
    assert too_large == "That file is 40.0 MB, over the 25.0 MB limit; send a smaller image."
    assert unsupported == messages.SLACK_UNSUPPORTED_TYPE.format(kind="HEIC")
    assert [hit.path.rsplit("/", 1)[-1] for hit in slack.file_hits] == ["cut.png"]  # refused from metadata: not fetched
    (corrupt,) = slack.called("chat.postEphemeral")
    assert corrupt["user"] == MEMBER
    assert "damaged or cut short" in corrupt["blocks"][0]["text"]["text"]
    assert [c.method for c in slack.calls if c.method.startswith("reactions.")] == ["reactions.add", "reactions.remove"]


def test_a_job_no_worker_answers_in_time_is_told_it_timed_out(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            h.slack.post_message(CHANNEL, MEMBER, [h.slack.add_file(image())])
            await h.dispatch(h.command("/caption"))
            await h.dispatch(h.shared([h.slack.add_file(image())]))
            await h.settle()
            return h.slack

    slack = run(scenario())
    (answer,) = slack.responses
    assert answer["text"] == TimedOut.default_message and answer["replace_original"] is True
    (told,) = slack.called("chat.postEphemeral")
    assert TimedOut.default_message in told["blocks"][0]["text"]["text"]
    assert [c.method for c in slack.calls if c.method.startswith("reactions.")] == ["reactions.add", "reactions.remove"]


def test_beyond_the_queue_cap_the_user_is_told_the_captioner_is_busy(idle_settings):
    settings = idle_settings.model_copy(update={"queue_max_depth": 1, "job_timeout_s": 4.0})

    async def scenario():
        store = aioredis.Redis.from_url(settings.redis_url.get_secret_value())
        async with harness(settings) as h:
            h.slack.post_message(CHANNEL, MEMBER, [h.slack.add_file(image())])
            await h.dispatch(h.command("/caption", user="U0FIRST"))
            while await store.llen(settings.queue_name) < 1:  # the first job waits for a worker
                await asyncio.sleep(0.02)
            await h.dispatch(h.command("/caption", user="U0SECOND"))
            await h.settle()
            await store.aclose()
            return h.slack.responses

    busy, timed_out = run(scenario())
    assert busy["text"] == Busy.default_message
    assert timed_out["text"] == TimedOut.default_message


def test_a_fine_tuned_request_without_a_fine_tuned_model_says_so(pretrained_only_worker):
    async def scenario():
        async with harness(pretrained_only_worker.settings) as h:
            h.slack.post_message(CHANNEL, MEMBER, [h.slack.add_file(image())])
            await h.dispatch(h.command("/caption"))
            await h.settle()
            await h.dispatch(h.command("/caption", "pretrained"))
            await h.settle()
            return h.slack.responses

    unavailable, _deleted, pretrained = run(scenario())
    assert unavailable["text"].startswith("No fine-tuned model is published yet")
    assert pretrained["blocks"][1]["elements"][0]["text"] == messages.model_label("pretrained", "tiny-pretrained0")


def test_without_redis_the_user_is_told_the_service_is_unavailable(idle_settings):
    unreachable = idle_settings.model_copy(update={"redis_url": SecretStr("redis://127.0.0.1:9/0")})

    async def scenario():
        async with harness(unreachable) as h:
            h.slack.post_message(CHANNEL, MEMBER, [h.slack.add_file(image())])
            await h.dispatch(h.command("/caption"))
            await h.settle()
            return h.slack.responses

    (answer,) = run(scenario())
    assert answer["text"] == ServiceUnavailable.default_message
