"""The Discord bot's health check follows its gateway: passing while connected, failing once it is closed."""

import asyncio

from captionbot.bot.discord.gateway_health import gateway_check
from tests.bot.discord.harness import async_test, running_bot


@async_test
async def test_the_gateway_check_passes_while_connected_and_fails_once_closed(idle_settings):
    async with running_bot(idle_settings) as h:
        await asyncio.wait_for(h.bot.wait_until_ready(), 30)
        check = gateway_check(h.bot)
        connected = await asyncio.to_thread(check)  # as the health server's thread calls it
        await h.bot.close()
        closed = await asyncio.to_thread(check)
    assert connected is None
    assert closed == "the bot has closed its Discord gateway connection"
