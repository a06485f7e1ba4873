"""Which attachments to caption, and whether one may be downloaded at all: the type and size Discord reports
are checked before a byte is fetched; the download goes through `captionbot.bot.fetch` (Discord's CDN hosts
only, redirects re-checked, capped at MAX_IMAGE_BYTES). CDN links are signed and expire, so images are
downloaded here, at intake, never queued as URLs."""

import mimetypes

import discord

from captionbot.bot import messages
from captionbot.bot.fetch import Fetcher
from captionbot.core.errors import ImageUnsupported
from captionbot.core.images import MIME_TYPES, check_pixels, check_size
from captionbot.core.settings import Settings


def content_type(attachment: discord.Attachment) -> str:
    """The MIME type Discord reports, else one guessed from the file name; '' when neither says."""
    declared = (attachment.content_type or "").split(";")[0].strip().lower()
    return declared or (mimetypes.guess_type(attachment.filename)[0] or "")


def looks_like_image(attachment: discord.Attachment) -> bool:
    return content_type(attachment).startswith("image/")


def check_attachment(attachment: discord.Attachment, max_bytes: int, max_pixels: int) -> None:
    """Refuse from metadata alone (`ImageRejected` subclasses): a type we cannot read, an empty or oversized
    file, or one with more pixels than we decode."""
    kind = content_type(attachment)
    if kind not in MIME_TYPES:
        if kind.startswith("image/"):
            name = kind.removeprefix("image/").split("+")[0].upper()
            raise ImageUnsupported(messages.DISCORD_UNSUPPORTED_TYPE.format(kind=name))
        raise ImageUnsupported(messages.NOT_AN_IMAGE_ATTACHMENT)
    check_size(attachment.size, max_bytes)
    check_pixels(attachment.width, attachment.height, max_pixels)


async def download(fetcher: Fetcher, attachment: discord.Attachment, settings: Settings) -> bytes:
    return await fetcher.fetch(attachment.url, settings.discord_cdn_hosts, settings.max_image_bytes)


def attachments_to_caption(message: discord.Message, *, images_only: bool) -> list[discord.Attachment]:
    """The message's own attachments, else those of the message it replies to (an "@bot what is this?" reply).
    `images_only` skips other files silently (auto-caption channels); otherwise they are answered as refused."""
    attachments = list(message.attachments)
    if not attachments and isinstance(message.reference and message.reference.resolved, discord.Message):
        attachments = list(message.reference.resolved.attachments)
    return [a for a in attachments if looks_like_image(a)] if images_only else attachments
