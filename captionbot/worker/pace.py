"""How many jobs this worker answers per second while it has work: the service rate that admission divides
the queue's depth by. Idle time is left out, so a quiet hour does not make a busy minute look slow."""

import threading
import time
from collections import deque

WINDOW_S = 10.0  # measure over the last this-many seconds: short enough to follow a slowing host
MIN_BUSY_S = 0.5  # less busy time than this in the window says nothing yet
PUBLISH_EVERY_S = 1.0


class Pace:
    def __init__(self, window_s: float = WINDOW_S) -> None:
        self._window_s = window_s
        self._lock = threading.Lock()
        self._running = 0
        self._busy_since = 0.0
        self._busy_s = 0.0  # all-time busy seconds, up to the last idle moment
        self._done = 0  # all-time jobs computed
        self._samples: deque[tuple[float, int, float]] = deque()  # (monotonic time, done, busy seconds)
        self._published = 0.0

    def begin(self) -> None:
        with self._lock:
            if self._running == 0:
                self._busy_since = time.monotonic()
            self._running += 1

    def end(self, computed: bool) -> None:
        with self._lock:
            self._running -= 1
            self._done += computed
            if self._running == 0:
                self._busy_s += time.monotonic() - self._busy_since

    def due(self) -> float | None:
        """The rate to publish now (at most once a second), or None: not yet time, or nothing measured."""
        now = time.monotonic()
        with self._lock:
            if now - self._published < PUBLISH_EVERY_S:
                return None
            self._published = now
            busy = self._busy_s + (now - self._busy_since if self._running else 0.0)
            done = self._done
            self._samples.append((now, done, busy))
            while len(self._samples) > 2 and self._samples[1][0] < now - self._window_s:
                self._samples.popleft()
            _, done_then, busy_then = self._samples[0]
        if busy - busy_then < MIN_BUSY_S or done == done_then:
            return None
        return (done - done_then) / (busy - busy_then)
