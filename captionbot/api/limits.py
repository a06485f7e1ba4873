"""What a caption request must hold before a byte of its body is read: the caller's rate-limit token (the same
Redis bucket the bots use, API_RATE_PER_MINUTE a key) and one of its API_UPLOADS_PER_KEY upload slots (in this
process), held until the request is answered. So a refused caller costs no upload, and one key cannot hold
more than a few bodies of up to MAX_IMAGE_BYTES in memory at once."""

from collections import Counter
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from captionbot.api import messages
from captionbot.api.auth import Caller
from captionbot.api.problems import ApiError


def images(count: int) -> str:
    return "1 image" if count == 1 else f"{count} images"


class UploadSlots:
    def __init__(self, per_caller: int) -> None:
        self.per_caller = per_caller
        self._held: Counter[str] = Counter()

    def take(self, caller: str) -> None:
        """`ApiError` (429, too_many_uploads) when `caller` holds every slot."""
        if self._held[caller] >= self.per_caller:
            raise ApiError("too_many_uploads", messages.TOO_MANY_UPLOADS.format(uploads=images(self.per_caller)))
        self._held[caller] += 1

    def in_flight(self) -> int:
        """How many uploads every caller together holds now."""
        return sum(self._held.values())

    def give_back(self, caller: str) -> None:
        self._held[caller] -= 1
        if self._held[caller] <= 0:
            del self._held[caller]


async def upload_slot(request: Request, caller: Caller) -> AsyncIterator[str]:
    """The caller, once its token and an upload slot are taken; the slot is given back after the answer."""
    state = request.app.state
    await state.service.queue.check_user(caller)
    state.uploads.take(caller)
    try:
        yield caller
    finally:
        state.uploads.give_back(caller)


Uploader = Annotated[str, Depends(upload_slot)]
