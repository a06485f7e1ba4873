"""Dynamic batching: concurrent requests for the same model and options share one `generate` call.

Celery's threads pool hands each job to a thread; the threads submit here and wait on a future; one batching
thread owns the model and runs whatever compatible requests have gathered, up to `max_size`, waiting at most
`max_wait_s` for company. A model swap takes effect between two batches. Right before a batch runs, requests
that could not be answered before their deadline (judged by the slowest of the last few batches) are answered
`Expired` instead: a stale job never takes a place in a batch.
"""

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field

from captionbot.core.errors import Expired
from captionbot.worker import metrics

log = logging.getLogger(__name__)

RECENT_BATCHES = 8
# From the end of a batch to its sender holding the answer: storing and publishing the result, waking the sender.
DELIVERY_S = 0.05


@dataclass
class Request:
    key: Hashable  # requests with equal keys may share a batch
    payload: object
    future: Future = field(default_factory=Future)
    deadline: float | None = None  # epoch seconds; None: no deadline


class Batcher:
    def __init__(self, run_batch: Callable[[list[Request]], None], max_size: int, max_wait_s: float) -> None:
        self._run_batch = run_batch
        self.max_size = max_size
        self.max_wait_s = max_wait_s
        self._inbox: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self._held: deque[Request] = deque()  # taken from the inbox but not compatible with the last batch
        self._recent_s: deque[float] = deque([0.0], maxlen=RECENT_BATCHES)  # durations of the last batches
        self._thread = threading.Thread(target=self._loop, name="batcher", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, key: Hashable, payload: object, deadline: float | None = None) -> Future:
        request = Request(key, payload, deadline=deadline)
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
            batch = self._without_expired(self._gather(first))
            if not batch:
                continue
            started = time.perf_counter()
            try:
                self._run_batch(batch)
            except BaseException as err:  # a failed batch fails its requests, never the thread
                log.exception("batch of %d failed", len(batch))
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(err)
            self._recent_s.append(time.perf_counter() - started)

    def _without_expired(self, batch: list[Request]) -> list[Request]:
        finish = time.time() + max(self._recent_s) + DELIVERY_S  # when a batch started now would be answered
        live, late = [], []
        for request in batch:
            (late if request.deadline is not None and request.deadline <= finish else live).append(request)
        for request in late:
            request.future.set_exception(Expired())
        if late:
            metrics.EXPIRED.labels("batch").inc(len(late))
        return live

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
