"""A guard for one failure of kombu 5.7's Redis transport seen in this project's Redis-restart test.

When Redis goes away while a late-acked job is in flight, Celery's consumer first `collect()`s the broken
connection (dropping its client) and then closes it; closing a channel restores its unacknowledged messages,
which needs that dropped client, and the AttributeError that follows is not a connection error, so the worker
stops with "Unrecoverable error". Nothing is lost by skipping that restore: every delivered message is also
recorded in Redis's own unacked index and comes back through the visibility-timeout sweep. So the guard
turns the crash into a log line and lets Celery reconnect.
"""

import logging

from kombu.transport import redis as redis_transport

log = logging.getLogger("captionbot.worker")

_original_restore_unacked = redis_transport.QoS.restore_unacked


def _restore_unacked(self, client=None):  # type: ignore[no-untyped-def]
    try:
        return _original_restore_unacked(self, client)
    except AttributeError:
        count = len(self._delivered)
        self._delivered.clear()
        log.warning(
            "broker connection lost with %d job(s) in flight; they return after the visibility timeout", count
        )
        return None


def install() -> None:
    redis_transport.QoS.restore_unacked = _restore_unacked
