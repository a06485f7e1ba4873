"""Posting images back with their captions as Discord's alt text (each attachment's `description`), when
DISCORD_ALT_TEXT is on, inside Discord's upload limits: each file within the upload limit of the place it goes
(`attachment_size_limit`, 10 MiB by default: developers/reference, "Uploading Files"), and all of them together
within the 25 MiB one message may carry (developers/resources/message, Create Message, "Limitations"); Discord
answers 413 beyond either. An image over its share is posted as a smaller JPEG; one that still does not fit is
left out, and the reply says how many were."""

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

import discord

from captionbot.bot.discord.captioner import Captioned
from captionbot.bot.discord.render import alt_text
from captionbot.core.images import shrink_for_job

MESSAGE_LIMIT = 25 * 1024 * 1024
PAYLOAD_ROOM = 256 * 1024  # the JSON part of the same request, and the multipart framing
REPOST_SIDES = (2048, 1024)  # longer side of an image too large to post back as it came, tried in turn


@dataclass(frozen=True)
class Reposts:
    files: list[discord.File]
    left_out: int  # images that did not fit even when shrunk


async def _fitted(captioned: Captioned, share: int, max_pixels: int) -> tuple[bytes, str] | None:
    data, filename = captioned.image, captioned.filename
    for side in REPOST_SIDES:
        if len(data) <= share:
            return data, filename
        data = await asyncio.to_thread(shrink_for_job, captioned.image, len(captioned.image), max_pixels, side)
        filename = PurePath(captioned.filename).stem + ".jpg"
    return (data, filename) if len(data) <= share else None


async def described_files(captioned: Sequence[Captioned], file_limit: int, max_pixels: int) -> Reposts:
    """Each image with its alt text; the budget left is shared evenly among the images still to come."""
    budget, files = MESSAGE_LIMIT - PAYLOAD_ROOM, []
    for index, item in enumerate(captioned):
        fitted = await _fitted(item, min(file_limit, budget // (len(captioned) - index)), max_pixels)
        if fitted is None:
            continue
        data, filename = fitted
        budget -= len(data)
        files.append(
            discord.File(io.BytesIO(data), filename=filename, description=alt_text(item.result), spoiler=item.spoiler)
        )
    return Reposts(files, len(captioned) - len(files))
