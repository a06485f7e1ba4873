"""The Discord bot end to end: the real discord.py fed the payloads Discord sends, its REST calls answered by a
local fake Discord, jobs through the real Redis to a real worker subprocess on tiny checkpoints."""

import logging
import re
import uuid

import pytest

from captionbot.bot import messages
from captionbot.core.registry import Registry
from tests.bot.discord import payloads as p
from tests.bot.discord.harness import TOKEN, Harness, async_test, image_bytes, noise_png, running_bot
from tests.fixtures.models import make_tiny_checkpoint
from tests.fixtures.services import WorkerProcess, service_env, settings_from

TIME = re.compile(r"\d+\.\d\d s compute, \d+\.\d\d s in queue")


def the_embed(call) -> dict:
    (embed,) = call.body["embeds"]
    return embed


def fields(embed: dict) -> dict[str, str]:
    return {field["name"]: field["value"] for field in embed["fields"]}


@async_test
async def test_caption_defers_then_downloads_then_answers_with_model_version_and_time(worker, caplog):
    caplog.set_level(logging.DEBUG)  # everything discord.py and the bot log, to look for the token in
    async with running_bot(worker.settings) as h:
        interaction = await h.slash(h.person(), "caption", {"image": h.attachment(image_bytes(), "beach.png")})
        answer = await h.answer(interaction)
        (download,) = h.downloads()
    callback = h.callback(interaction)
    assert callback.body == {"type": 5}  # "captionbot is thinking…", visible to the channel
    assert callback.at < download.at < answer.at  # deferred before the image was fetched, let alone queued
    assert download.authorization is None  # the bot token goes to Discord's API only
    embed = the_embed(answer)
    assert embed["title"] == messages.CAPTION_TITLE and embed["description"].strip()
    assert fields(embed)["Model"] == "Fine-tuned · v1"
    assert TIME.fullmatch(fields(embed)["Time"])
    assert not answer.body.get("flags", 0) & p.EPHEMERAL and answer.uploads == []
    assert TOKEN not in caplog.text


@async_test
async def test_private_variations_from_the_pretrained_model_are_ephemeral(worker):
    async with running_bot(worker.settings) as h:
        options = {"model": "pretrained", "variations": True, "max_words": 12, "temperature": 1.2, "private": True}
        interaction = await h.slash(
            h.person(), "caption", {"image": h.attachment(image_bytes((20, 90, 200)))}, **options
        )
        answer = await h.answer(interaction)
    assert h.callback(interaction).body == {"type": 5, "data": {"flags": p.EPHEMERAL}}
    assert answer.body["flags"] == p.EPHEMERAL
    embed = the_embed(answer)
    assert embed["title"] == messages.VARIATIONS_TITLE
    assert [line.split(". ", 1)[0] for line in embed["description"].splitlines()] == ["1", "2", "3"]
    assert fields(embed)["Model"] == "Pretrained · tiny-pretrained0"


@async_test
async def test_compare_shows_both_models_side_by_side_each_with_its_version(worker):
    async with running_bot(worker.settings) as h:
        interaction = await h.slash(
            h.person(), "compare", {"image": h.attachment(image_bytes((10, 160, 40)), "park.png")}, beams=2
        )
        embed = the_embed(await h.answer(interaction))
    assert embed["title"] == messages.COMPARE_TITLE
    assert [(f["name"], f["inline"]) for f in embed["fields"]] == [
        ("Pretrained · tiny-pretrained0", True),
        ("Fine-tuned · v1", True),
    ]
    for field in embed["fields"]:
        caption, time_taken = field["value"].splitlines()
        assert caption.strip() and TIME.fullmatch(time_taken.strip("*"))


@async_test
async def test_images_posted_in_an_auto_caption_channel_get_one_reply_with_alt_text(worker):
    async with running_bot(worker.settings, discord_alt_text=True) as h:
        files = [
            h.attachment(image_bytes((200, 200, 0)), "sun.png", ephemeral=False),
            h.attachment(image_bytes((0, 0, 90), fmt="JPEG"), "night.jpg", "image/jpeg", ephemeral=False),
        ]
        message = await h.post(h.person(), channel=h.fake.auto_channel, content="holiday", attachments=files)
        reply = await h.reply_to(message)
        typing = h.fake.calls_to("POST", f"/channels/{h.fake.auto_channel['id']}/typing")
    assert typing and typing[0].at < reply.at
    assert reply.path == f"/channels/{h.fake.auto_channel['id']}/messages"
    embeds = reply.body["embeds"]
    assert [e["title"] for e in embeds] == [
        f"{messages.CAPTION_TITLE} · image 1 of 2 · sun.png",
        f"{messages.CAPTION_TITLE} · image 2 of 2 · night.jpg",
    ]
    assert [fields(e)["Model"] for e in embeds] == ["Fine-tuned · v1"] * 2
    # Each image comes back with its caption as Discord's alt text (the attachment's description).
    assert [u.filename for u in reply.uploads] == ["sun.png", "night.jpg"]
    assert [a["description"] for a in reply.body["attachments"]] == [e["description"] for e in embeds]
    assert [u.data for u in reply.uploads] == [
        h.fake.files[f["url"].split("?")[0].removeprefix(h.fake.base_url)][0] for f in files
    ]


@async_test
async def test_the_context_menu_captions_the_images_of_a_message(worker):
    async with running_bot(worker.settings, discord_alt_text=True) as h:
        target = h.message(
            h.person(), attachments=[h.attachment(image_bytes((90, 30, 160)), "cat.png", ephemeral=False)]
        )
        interaction = await h.context_menu(h.person("zoe"), target)
        answer = await h.answer(interaction)
    assert h.callback(interaction).body == {"type": 5}
    embed = the_embed(answer)
    assert embed["title"] == f"{messages.CAPTION_TITLE} · cat.png" and fields(embed)["Model"] == "Fine-tuned · v1"
    (attachment,) = answer.body["attachments"]
    assert attachment["description"] == embed["description"] and answer.uploads[0].filename == "cat.png"


@async_test
async def test_the_context_menu_shows_captions_to_the_channel_and_a_failed_image_to_the_user_alone(worker):
    async with running_bot(worker.settings) as h:
        target = h.message(
            h.person(),
            attachments=[
                h.attachment(image_bytes((90, 30, 160)), "cat.png", ephemeral=False),
                h.attachment(b"<!doctype html><html></html>", "fake.png", ephemeral=False),
            ],
        )
        interaction = await h.context_menu(h.person("zoe"), target)
        public, private = await h.answers(interaction, 2)
    assert not public.ephemeral and [e["title"] for e in public.body["embeds"]] == [
        f"{messages.CAPTION_TITLE} · image 1 of 2 · cat.png"
    ]
    assert private.ephemeral and [e["title"] for e in private.body["embeds"]] == [
        f"{messages.DISCORD_FAILED_TITLE} · image 2 of 2 · fake.png"
    ]


@async_test
async def test_alt_text_reposts_of_large_photos_stay_inside_what_one_message_may_carry(worker):
    """Three 9.5 MB photos: each under the 10 MiB a file may be, together over the 25 MiB of one message, where
    Discord (and the fake) answer 413. The reply goes through, every image with its alt text."""
    photos = [noise_png(1780) for _ in range(3)]
    async with running_bot(worker.settings, discord_alt_text=True) as h:
        files = [h.attachment(data, f"p{i}.png", ephemeral=False) for i, data in enumerate(photos)]
        message = await h.post(h.person(), channel=h.fake.auto_channel, attachments=files)
        reply = await h.reply_to(message)
        (kept,) = [m for m in h.fake.messages if m.channel_id == h.fake.auto_channel["id"]]
    assert sum(map(len, photos)) > 25 * 1024 * 1024
    assert reply.size <= 25 * 1024 * 1024 and len(reply.uploads) == 3
    assert [a["description"] for a in kept.body["attachments"]] == [e["description"] for e in kept.body["embeds"]]


@async_test
async def test_a_spoiler_image_gets_its_caption_in_spoiler_marks(worker):
    async with running_bot(worker.settings) as h:
        attachment = h.attachment(image_bytes(), "SPOILER_ending.png")
        embed = the_embed(await h.answer(await h.slash(h.person(), "caption", {"image": attachment})))
    assert embed["description"].startswith("||") and embed["description"].endswith("||")


@pytest.fixture(scope="module")
def worker_without_finetuned(redis_url, tiny_checkpoint, tmp_path_factory):
    """A worker with v1 published but not CURRENT, so it serves no fine-tuned model until a reload. On a Redis
    database of its own: reload broadcasts reach every worker on a database."""
    root = tmp_path_factory.mktemp("discord-registry")
    Registry(root).add_version(make_tiny_checkpoint(tmp_path_factory.mktemp("discord-v1"), seed=1), "v1")
    values = {
        "REDIS_URL": redis_url.rsplit("/", 1)[0] + "/5",
        "QUEUE_NAME": f"discord-admin-{uuid.uuid4().hex[:8]}",
        "PRETRAINED_MODEL": str(tiny_checkpoint),
        "MODEL_DIR": str(root),
        "DEVICE": "cpu",
        "USER_RATE_PER_MINUTE": "1000",
        "HF_HUB_OFFLINE": "1",
    }
    process = WorkerProcess(
        settings_from(values), service_env(values), tmp_path_factory.mktemp("discord-worker") / "worker.log"
    )
    yield process.start()
    process.stop()


async def caption(h: Harness) -> dict:
    interaction = await h.slash(h.person(), "caption", {"image": h.attachment(image_bytes())})
    return the_embed(await h.answer(interaction))


@async_test
async def test_model_unavailable_until_an_admin_reloads_then_models_shows_it_live(worker_without_finetuned):
    name = worker_without_finetuned.name
    async with running_bot(worker_without_finetuned.settings) as h:
        before = await caption(h)
        reload = the_embed(await h.answer(await h.slash(h.admin(), "reload-model", version="v1"), timeout=120))
        models = the_embed(await h.answer(await h.slash(h.owner(), "models")))
        after = await caption(h)
    assert before["title"] == messages.DISCORD_FAILED_TITLE
    assert before["description"].startswith("No fine-tuned model is published yet")
    assert reload["title"] == messages.DISCORD_RELOAD_TITLE.format(version="v1")
    assert re.search(rf"^{re.escape(name)}: now serving v1 \(loaded in \d+\.\d s\)$", reload["description"], re.M)
    assert f"{name}: fine-tuned v1" in models["description"].splitlines()
    assert "Available: v1" in models["description"].splitlines()
    assert fields(after)["Model"] == "Fine-tuned · v1"
