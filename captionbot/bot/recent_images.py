"""The shrunk JPEG of each recent job, for a short while, so the reply that shows its caption can keep it for the
feedback buttons (the image the model saw, not the upload). In memory, bounded in count and age: an entry not
taken in time is dropped, and nothing is kept at all unless feedback is on somewhere."""

import time
from collections import OrderedDict

MAX_IMAGES = 64
MAX_AGE_S = 120.0  # from the job's result to its reply is milliseconds; a reply this late gets no buttons


class RecentImages:
    def __init__(self, max_images: int = MAX_IMAGES, max_age_s: float = MAX_AGE_S) -> None:
        self._images: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max_images = max_images
        self._max_age_s = max_age_s

    def put(self, job_id: str, image: bytes) -> None:
        self._images[job_id] = (time.monotonic(), image)
        self._drop_old()

    def take(self, job_id: str) -> bytes | None:
        self._drop_old()
        kept = self._images.pop(job_id, None)
        return kept[1] if kept else None

    def _drop_old(self) -> None:
        oldest_allowed = time.monotonic() - self._max_age_s
        while self._images and (
            len(self._images) > self._max_images or next(iter(self._images.values()))[0] < oldest_allowed
        ):
            self._images.popitem(last=False)
