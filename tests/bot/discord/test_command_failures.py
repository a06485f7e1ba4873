"""Every way `/caption`, `/compare` and the context menu can fail, answered with a sentence, never a hang.

No worker runs here: the queue is one nothing consumes, so a job that gets that far times out.
"""

import asyncio

import pytest
import redis.asyncio as aioredis

from captionbot.bot import messages
from captionbot.bot.fetch import FetchRefused
from captionbot.core.admission import Admission
from captionbot.core.errors import Busy, ServiceUnavailable, TimedOut
from tests.bot.discord import payloads as p
from tests.bot.discord.harness import PDF, Harness, async_test, image_bytes, running_bot


def immediate_answer(harness: Harness, interaction: dict) -> dict:
    """The interaction's only callback, an ephemeral message (type 4), and nothing after it."""
    (callback,) = [c for c in harness.fake.calls if c.path.startswith(f"/interactions/{interaction['id']}/")]
    assert callback.body["type"] == 4 and callback.body["data"]["flags"] == p.EPHEMERAL
    assert not harness.fake.calls_to("POST", f"/webhooks/{harness.fake.application_id}/{interaction['token']}")
    return callback.body["data"]


def followup_embed(harness: Harness, interaction: dict, answer) -> dict:
    """A failure after "thinking…": only the user sees it, and nothing of the command is left for the channel
    (Discord would have shown a first followup after a public defer to everyone, whatever its flags)."""
    assert harness.callback(interaction).body["type"] == 5  # deferred first
    assert [m.ephemeral for m in harness.shown(interaction)] == [True]
    (embed,) = answer.body["embeds"]
    return embed


@pytest.mark.parametrize(
    ("filename", "content_type", "size", "expected"),
    [
        ("notes.pdf", "application/pdf", None, messages.NOT_AN_IMAGE_ATTACHMENT),
        ("drawing.svg", "image/svg+xml", None, messages.DISCORD_UNSUPPORTED_TYPE.format(kind="SVG")),
        (
            "huge.png",
            "image/png",
            30 * 1024 * 1024,
            "That file is 30.0 MB, over the 25.0 MB limit; send a smaller image.",
        ),
        ("empty.png", "image/png", 0, "That file is empty; send a JPEG, PNG, WebP, GIF or BMP file."),
    ],
)
@async_test
async def test_an_attachment_refused_from_its_metadata_is_answered_at_once_and_never_downloaded(
    idle_settings, filename, content_type, size, expected
):
    async with running_bot(idle_settings) as h:
        attachment = h.attachment(
            PDF if content_type == "application/pdf" else image_bytes(), filename, content_type, size=size
        )
        interaction = await h.slash(h.person(), "caption", {"image": attachment})
        await h.answer(interaction)
        (embed,) = immediate_answer(h, interaction)["embeds"]
        assert embed["description"] == expected
        assert h.downloads() == []


@async_test
async def test_a_file_that_only_claims_to_be_an_image_is_refused_after_download(idle_settings):
    async with running_bot(idle_settings) as h:
        attachment = h.attachment(b"<!doctype html><html><body>hi</body></html>", "cat.png", "image/png")
        interaction = await h.slash(h.person(), "caption", {"image": attachment})
        embed = followup_embed(h, interaction, await h.answer(interaction))
    assert embed["title"] == messages.DISCORD_FAILED_TITLE
    assert embed["description"] == "That file is a web page; send a JPEG, PNG, WebP, GIF or BMP file."


@async_test
async def test_images_are_downloaded_only_from_discord_cdn_hosts(idle_settings):
    async with running_bot(idle_settings) as h:
        attachment = h.attachment(image_bytes())
        attachment["url"] = attachment["url"].replace("127.0.0.1", "localhost")  # a host not in DISCORD_CDN_HOSTS
        interaction = await h.slash(h.person(), "caption", {"image": attachment})
        embed = followup_embed(h, interaction, await h.answer(interaction))
        assert h.downloads() == []
    assert embed["description"] == FetchRefused.default_message


@async_test
async def test_defers_before_the_job_is_queued_and_says_so_when_no_worker_answers_in_time(idle_settings):
    """The queue length is read the moment each call reaches Discord: empty at the defer, the job on it after."""
    queue_length_at: dict[str, int] = {}
    client = aioredis.Redis.from_url(idle_settings.redis_url.get_secret_value())

    async def read_queue(call):
        kind = (
            "defer" if call.path.endswith("/callback") else "followup" if call.path.startswith("/webhooks/") else None
        )
        if kind:
            queue_length_at[kind] = await client.llen(idle_settings.queue_name)

    try:
        async with running_bot(idle_settings) as h:
            h.fake.on_request = read_queue
            interaction = await h.slash(h.person(), "caption", {"image": h.attachment(image_bytes())}, private=True)
            answer = await h.answer(interaction, timeout=idle_settings.job_timeout_s + 10)
            embed = followup_embed(h, interaction, answer)
    finally:
        await client.aclose()
    assert h.callback(interaction).body == {"type": 5, "data": {"flags": p.EPHEMERAL}}
    assert queue_length_at == {"defer": 0, "followup": 1}
    assert embed["description"] == TimedOut.default_message
    assert answer.body["flags"] == p.EPHEMERAL


@async_test
async def test_a_full_queue_answers_busy(idle_settings):
    settings = idle_settings.model_copy(update={"queue_max_depth": 1})
    client = aioredis.Redis.from_url(settings.redis_url.get_secret_value())
    try:
        await Admission(client, settings).admit("a-job-already-waiting", settings.job_timeout_s)
        async with running_bot(settings) as h:
            interaction = await h.slash(h.person(), "compare", {"image": h.attachment(image_bytes())})
            embed = followup_embed(h, interaction, await h.answer(interaction))
    finally:
        await client.aclose()
    assert embed["description"] == Busy.default_message


@async_test
async def test_a_user_over_the_rate_limit_is_told_to_wait(idle_settings):
    settings = idle_settings.model_copy(update={"user_rate_per_minute": 1, "job_timeout_s": 1.0})
    async with running_bot(settings) as h:
        person = h.person()
        first = await h.slash(person, "caption", {"image": h.attachment(image_bytes())})
        second = await h.slash(person, "caption", {"image": h.attachment(image_bytes())})
        answers = await asyncio.gather(h.answer(first), h.answer(second))
        descriptions = sorted(
            followup_embed(h, i, a)["description"] for i, a in zip((first, second), answers, strict=True)
        )
    assert descriptions[0] == TimedOut.default_message
    assert descriptions[1].startswith("You are sending images faster than the captioner allows; try again in ")


@async_test
async def test_an_unreachable_redis_answers_service_unavailable(idle_settings):
    settings = idle_settings.model_copy(update={"redis_url": type(idle_settings.redis_url)("redis://127.0.0.1:1/0")})
    async with running_bot(settings) as h:
        interaction = await h.slash(h.person(), "caption", {"image": h.attachment(image_bytes())})
        embed = followup_embed(h, interaction, await h.answer(interaction))
    assert embed["description"] == ServiceUnavailable.default_message


@async_test
async def test_the_per_user_cooldown_is_shared_by_the_expensive_commands(idle_settings):
    async with running_bot(idle_settings, command_cooldown_s=30.0) as h:
        person, other = h.person(), h.person("linus")
        refused_quickly = await h.slash(person, "caption", {"image": h.attachment(PDF, "a.pdf", "application/pdf")})
        await h.answer(refused_quickly)
        too_soon = await h.slash(person, "compare", {"image": h.attachment(PDF, "a.pdf", "application/pdf")})
        await h.answer(too_soon)
        someone_else = await h.slash(other, "caption", {"image": h.attachment(PDF, "a.pdf", "application/pdf")})
        await h.answer(someone_else)
        cooldown = immediate_answer(h, too_soon)["content"]
        unaffected = immediate_answer(h, someone_else)["embeds"][0]["description"]
    seconds = int(cooldown.split(" in ")[1].split()[0])
    assert cooldown == messages.COOLDOWN.format(seconds=seconds) and 0 < seconds <= 30
    assert unaffected == messages.NOT_AN_IMAGE_ATTACHMENT


@async_test
async def test_a_failure_after_a_public_defer_replaces_the_public_thinking_with_a_private_answer(idle_settings):
    """`/compare` defers for the channel; the CDN answers 404. The public "thinking…" is deleted and the failure
    goes out as an ephemeral followup, which Discord shows to the user alone."""
    async with running_bot(idle_settings) as h:
        attachment = h.attachment(image_bytes())
        h.fake.files.clear()  # the CDN no longer has it
        interaction = await h.slash(h.person(), "compare", {"image": attachment})
        answer = await h.answer(interaction)
        token = interaction["token"]
        calls = [(c.method, c.path.rsplit("/", 1)[-1]) for c in h.fake.calls if token in c.path]
        (thinking,) = [m for m in h.fake.messages if m.interaction_token == token and m is not answer]
    assert calls == [("POST", "callback"), ("DELETE", "@original"), ("POST", token)]
    assert thinking.deleted and not thinking.ephemeral
    assert answer.ephemeral and answer.body["embeds"][0]["description"] == messages.DOWNLOAD_FAILED


@async_test
async def test_the_context_menu_on_images_refused_from_their_metadata_answers_privately_without_a_public_defer(
    idle_settings,
):
    async with running_bot(idle_settings) as h:
        huge = h.attachment(image_bytes(), "huge.png", size=40 * 1024 * 1024, ephemeral=False)
        interaction = await h.context_menu(h.person("mia"), h.message(h.person(), attachments=[huge]))
        await h.answer(interaction)
        (embed,) = immediate_answer(h, interaction)["embeds"]
        assert h.downloads() == []
    assert embed["description"] == "That file is 40.0 MB, over the 25.0 MB limit; send a smaller image."


@async_test
async def test_the_context_menu_on_a_message_without_an_image_says_so(idle_settings):
    async with running_bot(idle_settings) as h:
        target = h.message(h.person(), content="just words")
        interaction = await h.context_menu(h.person("mia"), target)
        await h.answer(interaction)
        (embed,) = immediate_answer(h, interaction)["embeds"]
    assert embed["description"] == messages.DISCORD_NO_IMAGE_ON_MESSAGE
