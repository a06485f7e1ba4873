"""Posting an image back with its caption as Discord's alt text (the attachment's `description`), when
DISCORD_ALT_TEXT is on. An image over the upload limit of the place it goes is posted as a smaller JPEG."""

import asyncio
import io
from collections.abc import Iterable
from pathlib import PurePath

import discord

from captionbot.bot.discord.captioner import Captioned
from captionbot.bot.discord.render import alt_text
from captionbot.core.images import shrink_for_job

REPOST_SIDE = 2048  # longer side of an image too large to post back as it came


async def described_file(captioned: Captioned, upload_limit: int, max_pixels: int) -> discord.File:
    data, filename = captioned.image, captioned.filename
    if len(data) > upload_limit:
        data = await asyncio.to_thread(shrink_for_job, data, len(data), max_pixels, REPOST_SIDE)
        filename = PurePath(filename).stem + ".jpg"
    return discord.File(io.BytesIO(data), filename=filename, description=alt_text(captioned.result))


async def described_files(captioned: Iterable[Captioned], upload_limit: int, max_pixels: int) -> list[discord.File]:
    return [await described_file(c, upload_limit, max_pixels) for c in captioned]
