"""Work the Discord bot has begun and not finished: each command from its first check to its last answer, and
each posted message it is captioning. On SIGTERM (`drain`) the bot takes no new work, waits for this work up to
a grace period, then stops what is left and tells the user of each command still "thinking…" to ask again, so
nobody is left on "thinking…" for good."""

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import discord

from captionbot.bot import messages
from captionbot.bot.discord.replies import tell_privately

log = logging.getLogger(__name__)


class InFlight:
    def __init__(self) -> None:
        self.stopping = False
        self._running: dict[asyncio.Task, discord.Interaction | None] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def running(self) -> int:
        return len(self._running)

    @contextmanager
    def track(self, interaction: discord.Interaction | None = None) -> Iterator[None]:
        """Count the current task as work in flight while the block runs; `interaction`: the command it answers."""
        task = asyncio.current_task()
        self._running[task] = interaction
        self._idle.clear()
        try:
            yield
        finally:
            del self._running[task]
            if not self._running:
                self._idle.set()

    async def drain(self, grace_s: float) -> None:
        """Take no new work; let what runs finish within `grace_s` seconds; then stop it and say so."""
        self.stopping = True
        log.info("stopping; work in flight: %d", self.running)
        try:
            await asyncio.wait_for(self._idle.wait(), grace_s)
        except TimeoutError:
            log.warning("stopping; work left unfinished after %.0f s: %d", grace_s, self.running)
            await self._abandon()

    async def _abandon(self) -> None:
        left = dict(self._running)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        for interaction in filter(None, left.values()):
            try:
                await tell_privately(interaction, content=messages.RESTARTING)
            except discord.HTTPException as err:
                log.warning("could not tell interaction %s to ask again: %s", interaction.id, err)
