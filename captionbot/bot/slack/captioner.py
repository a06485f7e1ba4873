"""From a Slack file to a caption: Slack's metadata checked, the file downloaded, then the shared
`CaptionService` (which checks and shrinks the image off the event loop, queues it and awaits the worker)."""

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from captionbot.bot import messages
from captionbot.bot.service import CaptionRequest, CaptionService
from captionbot.bot.slack.files import SlackFile, SlackFiles
from captionbot.core.errors import CaptionError
from captionbot.core.jobs import JobResult, Mode, ModelName, Options

log = logging.getLogger(__name__)

ResultOrRefusal = JobResult | CaptionError
T = TypeVar("T")


class SlackCaptioner:
    def __init__(self, service: CaptionService, files: SlackFiles) -> None:
        self.service = service
        self.files = files

    async def caption(
        self,
        file: SlackFile,
        user_id: str,
        models: tuple[ModelName, ...] = ("finetuned",),
        mode: Mode = Mode.single,
        options: Options = Options(),
    ) -> JobResult:
        """Raises a `CaptionError` (refused, rate limited, busy, timed out, unavailable) with a sentence to show."""
        self.files.check(file)
        image = await self.files.download(file)
        request = CaptionRequest(image=image, models=models, mode=mode, options=options, user_id=f"slack:{user_id}")
        result = await self.service.caption(request)
        return result.raise_for_error()

    async def resolve_each(self, listed: Sequence[dict]) -> list[SlackFile | CaptionError]:
        """The files a message lists, each asked of `files.info` where Slack says to; a failure stays per file."""
        return list(await asyncio.gather(*(_outcome(self.files.resolve(data), data["id"]) for data in listed)))

    async def caption_each(self, files: Sequence[SlackFile], user_id: str) -> list[ResultOrRefusal]:
        """Several images at once, each answered on its own: one refused file does not sink the others. Those
        past MAX_IMAGES_PER_MESSAGE are answered `too_many_images`, never downloaded."""
        kept = files[: self.service.settings.max_images_per_message]
        outcomes = await asyncio.gather(*(_outcome(self.caption(file, user_id), file.id) for file in kept))
        return [*outcomes, *self.service.beyond_cap(len(files))]


async def _outcome(work: Awaitable[T], file_id: str) -> T | CaptionError:
    try:
        return await work
    except CaptionError as err:
        return err
    except Exception:
        log.exception("file %s could not be captioned", file_id)
        return CaptionError(messages.UNEXPECTED)
