"""SIGTERM: no new work, the work in flight finishes within the grace period, and whoever is still left on
"thinking…" after it is told to ask again; then the bot leaves the gateway."""

import asyncio
import logging
import os
import signal

from captionbot.bot import messages
from captionbot.bot.discord.app import serve_until_stopped
from tests.bot.discord.fake_discord import FakeDiscord
from tests.bot.discord.harness import TOKEN, Harness, async_test, bot_settings, discord_pointed_at, image_bytes

GRACE_S = 3.0


class Announced(logging.Handler):
    """Sets `event` when the bot logs that it is stopping: from then on it takes no new work."""

    def __init__(self, event: asyncio.Event) -> None:
        super().__init__()
        self.event = event

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("stopping; work in flight"):
            self.event.set()


@async_test
async def test_sigterm_finishes_what_it_can_refuses_new_work_and_tells_the_rest_to_ask_again(idle_settings):
    fake = await FakeDiscord(TOKEN).start()
    gates = {"finishes.png": asyncio.Event(), "stuck.png": asyncio.Event()}

    async def hold_downloads(call):
        gate = gates.get(call.path.rsplit("/", 1)[-1])
        if gate is not None:
            await gate.wait()

    stopping = asyncio.Event()
    announced = Announced(stopping)
    logger = logging.getLogger("captionbot.bot.discord")
    logger.addHandler(announced)
    logger.setLevel(logging.INFO)
    try:
        with discord_pointed_at(fake):
            task = asyncio.create_task(serve_until_stopped(bot_settings(idle_settings, fake), grace_s=GRACE_S))
            await fake.wait_until(lambda: fake.connected)
            h, person = Harness(fake), Harness(fake).person()
            fake.on_request = hold_downloads
            html = b"<!doctype html><html></html>"  # refused once downloaded: an answer that needs no worker
            finishes = await h.slash(person, "caption", {"image": h.attachment(html, "finishes.png")})
            stuck = await h.slash(h.person("ben"), "caption", {"image": h.attachment(image_bytes(), "stuck.png")})
            await fake.wait_until(lambda: len(h.downloads()) == 2)

            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(stopping.wait(), 10)
            too_late = await h.slash(h.person("cy"), "caption", {"image": h.attachment(image_bytes(), "late.png")})
            refused = await h.answer(too_late)
            gates["finishes.png"].set()
            finished = await h.answer(finishes)
            told = await h.answer(stuck, timeout=GRACE_S + 30)
            await asyncio.wait_for(task, 30)
            left_connected = fake.connected
    finally:
        logger.removeHandler(announced)
        for gate in gates.values():
            gate.set()
        await fake.close()
    assert h.callback(too_late).body["type"] == 4 and refused.ephemeral
    assert refused.body["content"] == messages.RESTARTING
    assert finished.ephemeral and "web page" in finished.body["embeds"][0]["description"]
    assert [m.ephemeral for m in h.shown(stuck)] == [True] and told.body["content"] == messages.RESTARTING
    assert not left_connected
