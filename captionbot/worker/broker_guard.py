"""Guards for kombu 5.7's Redis transport: against what a peer can put on the queue, and against two failures
seen in this project's Redis-restart test.

**Envelopes.** kombu makes a message of whatever it pops from the queue's list: an item that is not JSON, or
whose headers are not a mapping, raises inside kombu and ends the worker. `install` checks each envelope first
(`poison.envelope_poison`): one kombu could not read is dropped by the `Dropper` (it was popped and never
delivered, so there is nothing to acknowledge). The message Celery reads is checked next, in `consumer.py`.

**A dropped connection.** When Redis goes away while a late-acked job is in flight, Celery's consumer first `collect()`s the broken
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
from queue import Empty

from kombu.transport import redis as redis_transport

from captionbot.worker.poison import Dropper, Poison, envelope_poison

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


def _checked_envelopes(deliver, dropper: Dropper, max_body: int):  # noqa: ANN001, ANN202
    @functools.wraps(deliver)
    def guarded(self, payload, queue):  # noqa: ANN001, ANN202
        found = envelope_poison(payload, max_body)
        if found is None:
            return deliver(self, payload, queue)
        fields = payload if isinstance(payload, dict) else {"body": payload}
        dropper.drop(found, fields.get("headers"), fields.get("content-type"), fields.get("body"))
        return None

    return guarded


def _readable_items(read, dropper: Dropper):  # noqa: ANN001, ANN202
    """An item popped from the queue that is not JSON (or not UTF-8) is dropped, as kombu drops a fanout event it
    cannot read: nothing was delivered (`Empty`). The guarded `_deliver` and consumer raise nothing for a
    malformed message, so a ValueError here comes from decoding the item."""

    @functools.wraps(read)
    def guarded(self, **options):  # noqa: ANN001, ANN202
        try:
            return read(self, **options)
        except ValueError as err:
            found = Poison("bad_envelope", f"its envelope could not be read ({type(err).__name__})")
            dropper.drop(found, None, None, getattr(err, "doc", None) or getattr(err, "object", None))
            raise Empty() from err

    return guarded


def install(dropper: Dropper, max_body: int) -> None:
    qos = redis_transport.QoS
    if getattr(qos.restore_unacked, "__captionbot_guard__", False):
        return
    redis_transport.Transport._deliver = _checked_envelopes(redis_transport.Transport._deliver, dropper, max_body)
    redis_transport.Channel._brpop_read = _readable_items(redis_transport.Channel._brpop_read, dropper)
    qos.restore_unacked = _on_dropped_connection(
        qos.restore_unacked, lambda q, *a: f"{len(q._delivered)} unacknowledged job(s) not restored now"
    )
    qos.ack = _on_dropped_connection(qos.ack, lambda q, tag, *a: f"job {tag} answered but not acknowledged")
    qos.reject = _on_dropped_connection(qos.reject, lambda q, tag, *a: f"job {tag} not rejected")
