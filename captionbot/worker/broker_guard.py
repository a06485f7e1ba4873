"""A guard for two failures of kombu 5.7's Redis transport seen in this project's Redis-restart test.

When Redis goes away while a late-acked job is in flight, Celery's consumer first `collect()`s the broken
connection (dropping its client) and then closes it. Two things then reach for the dropped client:
closing the channel restores its unacknowledged messages, and the job's acknowledgement, deferred to the
event loop, runs against the old channel after the reconnect. Either raises an AttributeError, which is not a
connection error, so the worker stops with "Unrecoverable error".

Nothing is lost by skipping either: every delivered message is also recorded in Redis's own unacked index and
comes back through the visibility-timeout sweep, and a job that was already answered is then answered from
its stored result, not captioned again (see `tasks.py`). So the guard turns the crash into a log line and lets
Celery reconnect. It catches only that case (the channel already closed) and leaves kombu's state as it is.
"""

import functools
import logging

from kombu.transport import redis as redis_transport

log = logging.getLogger("captionbot.worker")


def _dropped(qos) -> bool:  # noqa: ANN001
    """Whether the QoS's channel lost its connection: `collect()` sets the transport's `client` to None and
    `close_channel` the channel's `connection`; every later Redis call of the channel fails on that None."""
    transport = getattr(qos.channel, "connection", None)
    return transport is None or getattr(transport, "client", None) is None


def _on_dropped_connection(method, describe):  # noqa: ANN001
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):  # noqa: ANN001, ANN202
        try:
            return method(self, *args, **kwargs)
        except AttributeError:
            if not _dropped(self):
                raise
            log.warning("broker connection lost: %s; it returns after the visibility timeout", describe(self, *args))
            return None

    guarded.__captionbot_guard__ = True
    return guarded


def install() -> None:
    qos = redis_transport.QoS
    if getattr(qos.restore_unacked, "__captionbot_guard__", False):
        return
    qos.restore_unacked = _on_dropped_connection(
        qos.restore_unacked, lambda q, *a: f"{len(q._delivered)} unacknowledged job(s) not restored now"
    )
    qos.ack = _on_dropped_connection(qos.ack, lambda q, tag, *a: f"job {tag} answered but not acknowledged")
    qos.reject = _on_dropped_connection(qos.reject, lambda q, tag, *a: f"job {tag} not rejected")
