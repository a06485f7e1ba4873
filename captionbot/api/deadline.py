"""A deadline for each request to arrive whole, headers and body: API_REQUEST_TIMEOUT_S.

uvicorn has none (its `timeout_keep_alive` covers only the quiet between requests, and is reset by every byte;
encode/uvicorn#157 asks for `--timeout-request-start` and `--timeout-request-complete`), and an ASGI middleware
runs only once the headers are in. So a client sending its headers or its body a byte at a time held a
connection, and the part of a body it had sent, for as long as it liked. This is uvicorn's own h11 protocol with
a timer: armed when a connection opens and when the first byte of each next request arrives, disarmed once the
request is whole. When it fires first, a client that sent part of a request is answered 408 (a problem, like
every other refusal) and the connection is closed; one that sent nothing is closed.
"""

import json
import logging
from asyncio import TimerHandle, Transport

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from captionbot.core.errors import seconds_phrase

log = logging.getLogger(__name__)

RECEIVING = (h11.IDLE, h11.SEND_BODY)  # the client's states while its request is not yet whole


def timeout_response(timeout_s: float) -> bytes:
    detail = f"The request did not arrive whole within {seconds_phrase(timeout_s)}; send it again, faster."
    body = json.dumps({"type": "about:blank", "title": "Request Timeout", "status": 408, "detail": detail,
                       "code": "request_timeout"}).encode()
    head = ("HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode() + body


class RequestDeadline(H11Protocol):
    deadline_s: float = 60.0

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._heard = False
        self._deadline: TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        self._heard = True
        if self._deadline is None and self.conn.their_state is h11.IDLE:  # the next request on this connection
            self._arm()
        super().data_received(data)
        if self.conn.their_state not in RECEIVING:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.deadline_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state not in RECEIVING:
            return
        if self.cycle is not None:
            # The app may be reading the body: it now reads a disconnect, and nothing it sends goes out.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        if self._heard and (self.cycle is None or not self.cycle.response_started):
            self.transport.write(timeout_response(self.deadline_s))
        log.info("closed a connection from %s: its request did not arrive within %g s",
                 self.client[0] if self.client else "?", self.deadline_s)
        self.transport.close()


def with_deadline(deadline_s: float) -> type[RequestDeadline]:
    """uvicorn's `http=` protocol class for a deadline of `deadline_s` seconds."""
    return type("RequestDeadlineProtocol", (RequestDeadline,), {"deadline_s": deadline_s})
