"""Embeds for every answer. The layout is here; the words come from `captionbot.bot.messages`.

Discord refuses a message over its embed limits with 400 (developers/resources/message, "Embed Limits"): title
256, description 4096, field name 256 and value 1024 characters, 6000 across all the embeds of a message. Text
that can grow (worker lists, version lists, error sentences quoting what a user typed) is capped here."""

from collections.abc import Sequence

import discord

from captionbot.bot import messages
from captionbot.bot.discord.captioner import Captioned, CaptionedOrRefused
from captionbot.core.control import WorkerReply
from captionbot.core.errors import CaptionError
from captionbot.core.jobs import JobResult, Mode

CAPTION_COLOUR = discord.Colour.blurple()
FAILURE_COLOUR = discord.Colour.red()
ALT_TEXT_LIMIT = 1024  # an attachment's description
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
EMBEDS_TOTAL_LIMIT = 6000  # every title, description, field, footer and author of a message's embeds together
FILENAME_LIMIT = 80  # of a file name in a title: ten images' embeds stay well inside the 6000 of one message
ADMIN_REPORT_LIMIT = 3500  # of the /reload-model and /models descriptions, inside both 4096 and 6000


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _spoiler(text: str, spoiler: bool) -> str:
    """Discord's spoiler marks, so a caption of an image posted as a spoiler is hidden as the image is."""
    return f"||{text}||" if spoiler else text


def caption_embed(
    result: JobResult, mode: Mode = Mode.single, title: str | None = None, *, spoiler: bool = False
) -> discord.Embed:
    """One model's caption (or three variations), the model with its version, and the time taken."""
    ((name, model),) = result.results.items()
    captions = [messages.shown_caption(c) for c in model.captions]
    text = "\n".join(f"{i}. {c}" for i, c in enumerate(captions, 1)) if mode == Mode.variations else captions[0]
    default_title = messages.VARIATIONS_TITLE if mode == Mode.variations else messages.CAPTION_TITLE
    description = _spoiler(clip(text, DESCRIPTION_LIMIT - 4), spoiler)
    embed = discord.Embed(title=title or default_title, description=description, colour=CAPTION_COLOUR)
    embed.add_field(name=messages.DISCORD_MODEL_FIELD, value=messages.model_label(name, model.version), inline=True)
    embed.add_field(name=messages.DISCORD_TIME_FIELD, value=messages.timing(model.ms, model.queue_ms), inline=True)
    return embed


def compare_embed(result: JobResult, *, spoiler: bool = False) -> discord.Embed:
    """Both models side by side, each field named by model and version, its caption and time in the value."""
    embed = discord.Embed(title=messages.COMPARE_TITLE, colour=CAPTION_COLOUR)
    for name in ("pretrained", "finetuned"):
        model = result.results[name]
        timing = f"\n*{messages.timing(model.ms, model.queue_ms)}*"
        caption = clip(messages.shown_caption(model.captions[0]), FIELD_VALUE_LIMIT - len(timing) - 4)
        embed.add_field(
            name=messages.model_label(name, model.version), value=_spoiler(caption, spoiler) + timing, inline=True
        )
    return embed


def failure_embed(error: CaptionError, title: str = messages.DISCORD_FAILED_TITLE) -> discord.Embed:
    return discord.Embed(title=title, description=clip(error.message, DESCRIPTION_LIMIT), colour=FAILURE_COLOUR)


def outcome_embeds(outcomes: Sequence[tuple[str, CaptionedOrRefused]]) -> list[discord.Embed]:
    """One embed per image of a message, titled with its place when there are several."""
    embeds = []
    for index, (filename, outcome) in enumerate(outcomes, 1):
        is_caption = isinstance(outcome, Captioned)
        title = messages.CAPTION_TITLE if is_caption else messages.DISCORD_FAILED_TITLE
        if len(outcomes) > 1:
            title = messages.DISCORD_IMAGE_OF.format(title=title, index=index, count=len(outcomes))
        title = clip(f"{title} · {clip(filename, FILENAME_LIMIT)}", TITLE_LIMIT)
        if is_caption:
            embeds.append(caption_embed(outcome.result, title=title, spoiler=outcome.spoiler))
        else:
            embeds.append(failure_embed(outcome, title))
    return embeds


def alt_text(result: JobResult) -> str:
    """The caption to describe the image with: the fine-tuned model's first, else the other model's."""
    model = result.results.get("finetuned") or next(iter(result.results.values()))
    return clip(messages.shown_caption(model.captions[0]), ALT_TEXT_LIMIT)


def reload_embed(version: str | None, replies: Sequence[WorkerReply]) -> discord.Embed:
    title = clip(messages.DISCORD_RELOAD_TITLE.format(version=version or messages.DISCORD_RELOAD_CURRENT), TITLE_LIMIT)
    if not replies:
        return discord.Embed(title=title, description=messages.RELOAD_NO_WORKERS, colour=FAILURE_COLOUR)
    lines = [messages.reload_line(r.worker, r.status, r.version, r.load_s, r.reason) for r in replies]
    all_ok = all(r.status in ("ok", "unchanged") for r in replies)
    return discord.Embed(
        title=title,
        description=messages.join_capped(lines, ADMIN_REPORT_LIMIT),
        colour=CAPTION_COLOUR if all_ok else FAILURE_COLOUR,
    )


def models_embed(replies: Sequence[WorkerReply]) -> discord.Embed:
    if not replies:
        return discord.Embed(
            title=messages.DISCORD_MODELS_TITLE, description=messages.RELOAD_NO_WORKERS, colour=FAILURE_COLOUR
        )
    live = {r.worker: r.version for r in replies}
    available = sorted({version for r in replies for version in r.available})
    description = messages.models_text(live, available, ADMIN_REPORT_LIMIT)
    return discord.Embed(title=messages.DISCORD_MODELS_TITLE, description=description, colour=CAPTION_COLOUR)
