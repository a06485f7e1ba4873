"""The registry's versions for `GET /v1/models`, read off the event loop. The registry can be object storage
that is slow or never answers, and boto3 blocks: called in the handler, one listing froze every request of the
API (142 s against an S3 endpoint that never answered). So one read runs at a time, on a thread of its own (a
read that hangs holds no thread the app needs, and does not hold up its shutdown), shared by every request that
waits on it; a request waits LISTING_TIMEOUT_S at most; an answer is kept CACHE_S seconds."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from captionbot.core.registry import Registry, RegistryUnavailable, VersionInfo

CACHE_S = 5.0
LISTING_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Listing:
    current: str | None
    versions: list[VersionInfo]


class ModelListing:
    def __init__(self, location: str, cache_s: float = CACHE_S, timeout_s: float = LISTING_TIMEOUT_S) -> None:
        self._registry = Registry(location)
        self.cache_s, self.timeout_s = cache_s, timeout_s
        self._kept: tuple[float, Listing] | None = None
        self._reading: asyncio.Future | None = None
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="registry-listing")

    async def listing(self) -> Listing:
        """`RegistryError` (`RegistryUnavailable` when the registry did not answer in time) if there is none."""
        if self._kept is not None and time.monotonic() - self._kept[0] < self.cache_s:
            return self._kept[1]
        if self._reading is None or self._reading.done():
            self._reading = asyncio.get_running_loop().run_in_executor(self._reader, self._read)
            self._reading.add_done_callback(lambda read: read.cancelled() or read.exception())  # heard even unawaited
        try:
            listing = await asyncio.wait_for(asyncio.shield(self._reading), self.timeout_s)
        except TimeoutError as err:
            raise RegistryUnavailable(f"the model registry did not answer within {self.timeout_s:g} s") from err
        self._kept = (time.monotonic(), listing)
        return listing

    def _read(self) -> Listing:
        return Listing(self._registry.current(), self._registry.versions())

