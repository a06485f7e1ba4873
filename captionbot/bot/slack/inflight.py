"""Listener runs still going after their ack. Bolt runs a listener on after `ack()` in a task it does not keep;
tracking them (and the error handler's answers) lets a shutdown wait for answers in flight, and a test wait
until every answer is out."""

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

Listener = Callable[..., Awaitable[Any]]

# Bolt's AsyncioListenerRunner looks for the ack every 10 ms, and when a listener fails it overwrites the ack it
# found with None: a failure within 10 ms of `ack()` loses the ack (Slack gets a 404 after 3 s, the user a
# "dispatch failed"). A failure is held back for a few polls, so the ack is out before the error handler runs.
BOLT_ACK_POLL_S = 0.01


class InFlight:
    def __init__(self) -> None:
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def running(self) -> int:
        return self._running

    def track(self, listener: Listener) -> Listener:
        """Wrap a listener; `functools.wraps` keeps its signature, which Bolt reads to pass its arguments.
        Every listener that calls `ack()` itself must be wrapped (see BOLT_ACK_POLL_S)."""

        @functools.wraps(listener)
        async def tracked(*args: Any, **kwargs: Any) -> Any:
            self._running += 1
            self._idle.clear()
            try:
                return await listener(*args, **kwargs)
            except Exception:
                await asyncio.sleep(3 * BOLT_ACK_POLL_S)
                raise
            finally:
                self._running -= 1
                if self._running == 0:
                    self._idle.set()

        return tracked

    async def wait_idle(self, timeout: float) -> bool:
        """True once no tracked listener runs; False when `timeout` seconds pass first."""
        try:
            await asyncio.wait_for(self._settled(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def _settled(self) -> None:
        while True:
            await self._idle.wait()
            # A listener that failed hands over to the (tracked) error handler in the same step: look again.
            await asyncio.sleep(0)
            if self._running == 0:
                return
