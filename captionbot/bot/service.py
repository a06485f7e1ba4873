"""The command logic both bots share: turn a user's image and options into a job, run it, and the admin
commands. Platform code only downloads, renders and replies."""

import asyncio
from dataclasses import dataclass

import redis
from kombu.exceptions import OperationalError

from captionbot.bot import messages
from captionbot.bot.recent_images import RecentImages
from captionbot.core.celery_config import make_celery
from captionbot.core.control import WorkerReply, reload_workers, worker_status
from captionbot.core.errors import CaptionError, ServiceUnavailable, TooManyImages
from captionbot.core.images import shrink_for_job
from captionbot.core.jobs import Job, JobResult, Mode, ModelName, Options
from captionbot.core.metrics import BOT_LATENCY, BOT_REQUESTS
from captionbot.core.queue import CaptionQueue
from captionbot.core.settings import Settings


@dataclass(frozen=True)
class CaptionRequest:
    image: bytes  # as downloaded
    models: tuple[ModelName, ...] = ("finetuned",)
    mode: Mode = Mode.single
    options: Options = Options()
    user_id: str = ""


class CaptionService:
    def __init__(self, settings: Settings, queue: CaptionQueue | None = None) -> None:
        self.settings = settings
        self.queue = queue or CaptionQueue(settings, make_celery(settings))
        self.job_images: RecentImages | None = None  # set where feedback is on: replies keep their job's image

    async def caption(self, request: CaptionRequest) -> JobResult:
        """Check and shrink the image off the event loop, queue it, await the result.

        Raises a `CaptionError` (image refused, rate limited, busy, timed out, service unavailable); a result
        may still carry a worker-side error: call `raise_for_error()`.
        """
        with BOT_LATENCY.time():
            try:
                result = await self._caption(request)
            except CaptionError as err:
                BOT_REQUESTS.labels(err.code).inc()
                raise
        BOT_REQUESTS.labels(result.error["code"] if result.error else "ok").inc()
        return result

    async def _caption(self, request: CaptionRequest) -> JobResult:
        s = self.settings
        if request.user_id:
            await self.queue.check_user(request.user_id)
        image = await asyncio.to_thread(shrink_for_job, request.image, s.max_image_bytes, s.max_image_pixels, s.job_image_side)
        job = Job(image=image, models=request.models, mode=request.mode, options=request.options)
        if self.job_images is not None:
            self.job_images.put(job.job_id, image)
        return await self.queue.caption(job)

    def beyond_cap(self, count: int) -> list[CaptionError]:
        """The answers for a message's images past MAX_IMAGES_PER_MESSAGE (the first that many are captioned)."""
        cap = self.settings.max_images_per_message
        return [TooManyImages(messages.TOO_MANY_IMAGES.format(cap=cap)) for _ in range(count - cap)]

    async def reload(self, version: str | None, timeout: float = 120.0) -> list[WorkerReply]:
        return await self._control(reload_workers, self.queue.app, version, timeout)

    async def status(self) -> list[WorkerReply]:
        return await self._control(worker_status, self.queue.app)

    @staticmethod
    async def _control(command, *args) -> list[WorkerReply]:  # noqa: ANN001
        """Broadcast off the event loop; a broker that cannot be reached is `ServiceUnavailable`."""
        try:
            return await asyncio.to_thread(command, *args)
        except (OperationalError, redis.RedisError, OSError) as err:
            raise ServiceUnavailable() from err

    async def aclose(self) -> None:
        await self.queue.aclose()
