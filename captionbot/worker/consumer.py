"""The worker's Celery consumer (`worker_consumer`): Celery's own, with two additions. Every message on the job
queue is checked before Celery's strategy reads it (`poison.py`); one that is not a job is acknowledged and
dropped (kept, counted, logged in one line), and the consumer goes on. And its restarts are counted: a consumer
that keeps losing its broker connection is not serving, whatever else answers, so /healthz says so."""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from celery.worker.consumer import Consumer
from kombu.message import Message
from vine import promise

from captionbot.core.settings import get_settings
from captionbot.worker import metrics
from captionbot.worker.poison import Dropper, poison

log = logging.getLogger("captionbot.worker")

RESTART_LIMIT = 5  # restarts within RESTART_WINDOW_S that make /healthz fail
RESTART_WINDOW_S = 300.0


class Restarts:
    """When the consumer lost its connection lately: a Redis outage costs one restart, a loop many."""

    def __init__(self, limit: int = RESTART_LIMIT, window_s: float = RESTART_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._times: deque[float] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def record(self) -> None:
        with self._lock:
            self._times.append(self.clock())

    def problem(self) -> str | None:
        """A health check: None, or how often the consumer restarted within the window."""
        with self._lock:
            recent = [at for at in self._times if at > self.clock() - self.window_s]
        if len(recent) < self.limit:
            return None
        return f"the job consumer lost its broker connection {len(recent)} times in {self.window_s:.0f} s"


RESTARTS = Restarts()


class GuardedConsumer(Consumer):
    def create_task_handler(self, promise: type = promise) -> Callable[[Message], None]:
        handle = super().create_task_handler(promise)
        settings = get_settings()
        dropper = Dropper(self.app, settings.queue_name, settings.max_image_bytes, self.hostname)

        def on_task_received(message: Message) -> None:
            found = poison(message.headers, message.content_type, message.decode)
            if found is None:
                return handle(message)
            message.ack_log_error(log, self.connection_errors)
            dropper.drop(found, message.headers, message.content_type, message.body)
            return None

        return on_task_received

    def on_connection_error_before_connected(self, exc: Exception) -> None:
        self._restarted()
        super().on_connection_error_before_connected(exc)

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        self._restarted()
        super().on_connection_error_after_connected(exc)

    @staticmethod
    def _restarted() -> None:
        RESTARTS.record()
        metrics.CONSUMER_RESTARTS.inc()
