"""From a Discord attachment to a caption: metadata check, download, then the shared `CaptionService`."""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import discord

from captionbot.bot import messages
from captionbot.bot.fetch import Fetcher
from captionbot.bot.discord.intake import check_attachment, download
from captionbot.bot.service import CaptionRequest, CaptionService
from captionbot.core.errors import CaptionError, ImageRejected
from captionbot.core.jobs import JobResult, Mode, ModelName, Options
from captionbot.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Captioned:
    filename: str
    image: bytes  # as downloaded: posted back when alt text is on
    result: JobResult
    spoiler: bool = False  # posted as a spoiler: its caption is hidden the same way
    mode: Mode = Mode.single
    options: Options = Options()


CaptionedOrRefused = Captioned | CaptionError


class Captioner:
    def __init__(self, settings: Settings, service: CaptionService, fetcher: Fetcher) -> None:
        self.settings = settings
        self.service = service
        self.fetcher = fetcher

    def check(self, attachment: discord.Attachment) -> None:
        """Refuse from Discord's metadata, before anything is downloaded."""
        check_attachment(attachment, self.settings.max_image_bytes, self.settings.max_image_pixels)

    def refusal(self, attachment: discord.Attachment) -> ImageRejected | None:
        """What `check` would refuse the attachment with, or None."""
        try:
            self.check(attachment)
        except ImageRejected as err:
            return err
        return None

    async def caption(
        self,
        attachment: discord.Attachment,
        user_id: int,
        models: tuple[ModelName, ...] = ("finetuned",),
        mode: Mode = Mode.single,
        options: Options | None = None,
    ) -> Captioned:
        """Raises a `CaptionError` (refused, rate limited, busy, timed out, unavailable) with a sentence to show."""
        self.check(attachment)
        image = await download(self.fetcher, attachment, self.settings)
        request = CaptionRequest(
            image=image, models=models, mode=mode, options=options or Options(), user_id=f"discord:{user_id}"
        )
        result = await self.service.caption(request)
        return Captioned(
            attachment.filename, image, result.raise_for_error(), attachment.is_spoiler(), mode, request.options
        )

    async def caption_each(self, attachments: Sequence[discord.Attachment], user_id: int) -> list[CaptionedOrRefused]:
        """Several images at once, each answered on its own: one refused file does not sink the others. Those
        past MAX_IMAGES_PER_MESSAGE are answered `too_many_images`, never downloaded."""
        kept = attachments[: self.settings.max_images_per_message]
        outcomes = await asyncio.gather(*(self._outcome(attachment, user_id) for attachment in kept))
        return [*outcomes, *self.service.beyond_cap(len(attachments))]

    async def _outcome(self, attachment: discord.Attachment, user_id: int) -> CaptionedOrRefused:
        try:
            return await self.caption(attachment, user_id)
        except CaptionError as err:
            return err
        except Exception:
            log.exception("captioning attachment %s failed", attachment.id)
            return CaptionError(messages.UNEXPECTED)
