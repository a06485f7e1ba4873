"""Embeds, alt text and metadata checks, on their own (no Discord, no queue)."""

import asyncio
from types import SimpleNamespace

import discord
import pytest
from PIL import Image

from captionbot.bot import messages
from captionbot.bot.discord.alt_text import MESSAGE_LIMIT, described_files
from captionbot.bot.discord.captioner import Captioned
from captionbot.bot.discord.ids import DiscordIds, InvalidDiscordId
from captionbot.bot.discord.intake import check_attachment, content_type
from captionbot.bot.discord.render import (
    alt_text,
    caption_embed,
    compare_embed,
    models_embed,
    outcome_embeds,
    reload_embed,
)
from captionbot.core.control import WorkerReply
from captionbot.core.errors import ImageTooManyPixels, ImageTooLarge, ImageUnsupported, TimedOut
from captionbot.core.jobs import JobResult, Mode, ModelResult
from captionbot.core.settings import Settings
from tests.bot.discord import payloads as p
from tests.bot.discord.fake_discord import limit_problem
from tests.bot.discord.harness import noise_png


def result(**captions: list[str]) -> JobResult:
    versions = {"finetuned": "v3", "pretrained": "blip-base"}
    return JobResult(
        job_id="j",
        results={
            name: ModelResult(version=versions[name], captions=c, ms=812.0, queue_ms=40.0)
            for name, c in captions.items()
        },
    )


def test_a_caption_embed_names_the_model_with_its_version_and_the_time():
    embed = caption_embed(result(finetuned=["a dog on a beach"])).to_dict()
    assert embed["title"] == messages.CAPTION_TITLE and embed["description"] == "a dog on a beach"
    assert embed["fields"] == [
        {"name": "Model", "value": "Fine-tuned · v3", "inline": True},
        {"name": "Time", "value": "0.81 s compute, 0.04 s in queue", "inline": True},
    ]


def test_variations_are_numbered():
    embed = caption_embed(result(pretrained=["a", "b", "c"]), Mode.variations).to_dict()
    assert embed["title"] == messages.VARIATIONS_TITLE and embed["description"] == "1. a\n2. b\n3. c"


def test_compare_puts_both_models_side_by_side():
    embed = compare_embed(result(finetuned=["fine"], pretrained=["pre"])).to_dict()
    assert [(f["name"], f["value"].splitlines()[0], f["inline"]) for f in embed["fields"]] == [
        ("Pretrained · blip-base", "pre", True),
        ("Fine-tuned · v3", "fine", True),
    ]


def test_outcome_embeds_title_each_image_and_keep_failures_apart():
    embeds = outcome_embeds([("a.png", Captioned("a.png", b"", result(finetuned=["x"]))), ("b.png", TimedOut())])
    assert [e.title for e in embeds] == [
        f"{messages.CAPTION_TITLE} · image 1 of 2 · a.png",
        f"{messages.DISCORD_FAILED_TITLE} · image 2 of 2 · b.png",
    ]
    assert embeds[1].description == TimedOut.default_message


def test_alt_text_prefers_the_fine_tuned_caption_and_fits_discords_limit():
    assert alt_text(result(finetuned=["fine"], pretrained=["pre"])) == "fine"
    assert len(alt_text(result(pretrained=["word " * 400]))) == 1024


def test_an_image_over_the_upload_limit_is_posted_back_smaller_with_its_alt_text():
    data = noise_png(600)
    captioned = Captioned("SPOILER_scan.png", data, result(finetuned=["grey noise"]), spoiler=True)
    (small,) = asyncio.run(described_files([captioned], file_limit=len(data) - 1, max_pixels=50_000_000)).files
    (same,) = asyncio.run(described_files([captioned], file_limit=10 * 1024 * 1024, max_pixels=50_000_000)).files
    assert isinstance(small, discord.File) and small.description == "grey noise"
    assert small.filename == "SPOILER_scan.jpg" and Image.open(small.fp).format == "JPEG"
    assert same.filename == "SPOILER_scan.png" and same.fp.read() == data


def test_five_phone_photos_posted_back_stay_inside_the_25_mib_of_one_message():
    photos = [Captioned(f"p{i}.png", noise_png(1450), result(finetuned=[f"photo {i}"])) for i in range(5)]
    assert sum(len(c.image) for c in photos) > MESSAGE_LIMIT  # as they came, Discord would answer 413
    reposts = asyncio.run(described_files(photos, file_limit=10 * 1024 * 1024, max_pixels=50_000_000))
    sizes = [len(f.fp.read()) for f in reposts.files]
    assert reposts.left_out == 0 and len(sizes) == 5 and sum(sizes) <= MESSAGE_LIMIT
    assert [f.description for f in reposts.files] == [f"photo {i}" for i in range(5)]


def test_an_image_that_cannot_be_made_small_enough_is_left_out_and_counted():
    photos = [Captioned("big.png", noise_png(1450), result(finetuned=["x"]))]
    reposts = asyncio.run(described_files(photos, file_limit=2000, max_pixels=50_000_000))
    assert reposts.files == [] and reposts.left_out == 1


def test_a_spoiler_images_caption_is_in_spoiler_marks_everywhere_it_is_shown():
    spoiled = Captioned("SPOILER_plot.png", b"", result(finetuned=["the butler did it"]), spoiler=True)
    (embed,) = outcome_embeds([("SPOILER_plot.png", spoiled)])
    assert embed.description == "||the butler did it||"
    assert caption_embed(result(finetuned=["x"]), spoiler=True).description == "||x||"
    pretrained, finetuned = compare_embed(result(finetuned=["a"], pretrained=["b"]), spoiler=True).fields
    assert pretrained.value.startswith("||b||") and finetuned.value.startswith("||a||")


def test_an_empty_caption_is_never_sent_as_the_answer():
    assert caption_embed(result(finetuned=["  "])).description == messages.NO_CAPTION
    assert alt_text(result(finetuned=[""])) == messages.NO_CAPTION
    assert compare_embed(result(finetuned=[""], pretrained=["b"])).fields[1].value.startswith(messages.NO_CAPTION)


def test_reload_and_models_reports_for_hundreds_of_workers_and_versions_fit_discords_limits():
    replies = [
        WorkerReply(
            worker=f"gpu{i}@host-{i:04d}.cluster.example",
            status="refused" if i % 2 else "ok",
            version="v3",
            load_s=2.5,
            reason="the probe caption had NaN scores after the swap",
            available=[f"experiment-{i}-{j}" for j in range(10)],
        )
        for i in range(400)
    ]
    reload, models = reload_embed("v3", replies).to_dict(), models_embed(replies).to_dict()
    for embed in (reload, models):
        assert limit_problem({"embeds": [embed]}) is None
    assert reload["description"].splitlines()[-1].startswith("…and ") and reload["description"].endswith(" more")
    available = models["description"].splitlines()[-1]
    assert available.startswith("Available: ") and available.endswith(" more")


def test_reload_and_models_embeds_show_each_worker():
    replies = [
        WorkerReply(worker="gpu0@a", status="ok", version="v3", load_s=2.5, available=["v2", "v3"]),
        WorkerReply(
            worker="gpu1@a", status="refused", version="v2", reason="NaN in probe caption", available=["v3", "v4"]
        ),
    ]
    reload = reload_embed("v3", replies)
    assert reload.description.splitlines() == [
        "gpu0@a: now serving v3 (loaded in 2.5 s)",
        "gpu1@a: refused, still serving v2: NaN in probe caption",
    ]
    assert reload.colour == discord.Colour.red()
    assert models_embed(replies).description.splitlines() == [
        "gpu0@a: fine-tuned v3",
        "gpu1@a: fine-tuned v2",
        "Available: v2, v3, v4",
    ]
    assert models_embed([]).description == messages.RELOAD_NO_WORKERS


def attachment(filename: str, kind: str | None, size: int = 1000, **dimensions: int) -> discord.Attachment:
    data = p.attachment(f"https://cdn.discordapp.com/attachments/1/2/{filename}", filename, size, kind, **dimensions)
    return discord.Attachment(data=data, state=SimpleNamespace(http=None))  # no REST calls are made here


@pytest.mark.parametrize(
    ("filename", "kind", "expected"),
    [
        ("a.jpg", None, "image/jpeg"),
        ("a.webp", "image/webp", "image/webp"),
        ("README", None, ""),
        ("x.png", "IMAGE/PNG; q=1", "image/png"),
    ],
)
def test_the_type_comes_from_discord_else_from_the_file_name(filename, kind, expected):
    assert content_type(attachment(filename, kind)) == expected


def test_metadata_checks_refuse_before_download():
    check_attachment(attachment("a.gif", "image/gif", width=100, height=100), max_bytes=2048, max_pixels=10_000)
    with pytest.raises(ImageUnsupported, match="I can't read HEIC images"):
        check_attachment(attachment("a.heic", "image/heic"), max_bytes=2048, max_pixels=10_000)
    with pytest.raises(ImageTooLarge):
        check_attachment(attachment("a.gif", "image/gif", size=4096), max_bytes=2048, max_pixels=10_000)
    with pytest.raises(ImageTooManyPixels, match="200×100 pixels"):
        check_attachment(attachment("a.png", "image/png", width=200, height=100), max_bytes=2048, max_pixels=10_000)


def test_id_settings_must_be_discord_ids():
    settings = Settings(discord_admin_user_ids="123, 456", discord_guild_ids="789", _env_file=None)
    assert DiscordIds.from_settings(settings).admin_users == {123, 456}
    with pytest.raises(InvalidDiscordId, match="DISCORD_AUTO_CAPTION_CHANNELS holds '#general'"):
        DiscordIds.from_settings(Settings(discord_auto_caption_channels="#general", _env_file=None))


def test_ten_images_with_long_names_and_long_captions_fit_one_message():
    caption = " ".join(["word"] * 50) + " " + "x" * 150  # a 50-word caption and then some
    long_name = "long-name-" * 25
    outcomes = [(f"{long_name}{i}.png", Captioned("a.png", b"", result(finetuned=[caption]))) for i in range(10)]
    embeds = [e.to_dict() for e in outcome_embeds(outcomes)]
    assert limit_problem({"embeds": embeds}) is None
