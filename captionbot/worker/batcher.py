"""Dynamic batching: concurrent requests for the same model and options share one `generate` call.

Celery's threads pool hands each job to a thread; the threads submit here and wait on a future; one batching
thread owns the model and runs whatever compatible requests have gathered, up to `max_size`, waiting at most
`max_wait_s` for company. A model swap takes effect between two batches.
"""

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Request:
    key: Hashable  # requests with equal keys may share a batch
    payload: object
    future: Future = field(default_factory=Future)


class Batcher:
    def __init__(self, run_batch: Callable[[list[Request]], None], max_size: int, max_wait_s: float) -> None:
        self._run_batch = run_batch
        self.max_size = max_size
        self.max_wait_s = max_wait_s
        self._inbox: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self._held: deque[Request] = deque()  # taken from the inbox but not compatible with the last batch
        self._thread = threading.Thread(target=self._loop, name="batcher", daemon=True)
        self._thread.start()

    def submit(self, key: Hashable, payload: object) -> Future:
        request = Request(key, payload)
        self._inbox.put(request)
        return request.future

    def close(self) -> None:
        self._inbox.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            first = self._held.popleft() if self._held else self._inbox.get()
            if first is None:
                return
            batch = self._gather(first)
            try:
                self._run_batch(batch)
            except BaseException as err:  # a failed batch fails its requests, never the thread
                log.exception("batch of %d failed", len(batch))
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(err)

    def _gather(self, first: Request) -> list[Request]:
        batch = [first]
        for request in list(self._held):
            if len(batch) < self.max_size and request.key == first.key:
                self._held.remove(request)
                batch.append(request)
        deadline = time.perf_counter() + self.max_wait_s
        while len(batch) < self.max_size:
            remaining = deadline - time.perf_counter()
            try:
                request = self._inbox.get(timeout=remaining) if remaining > 0 else self._inbox.get_nowait()
            except queue.Empty:
                break
            if request is None:
                self._inbox.put(None)  # stop after this batch
                break
            (batch if request.key == first.key else self._held).append(request)
        return batch
