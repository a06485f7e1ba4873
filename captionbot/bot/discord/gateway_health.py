"""The Discord bot's health check: its gateway websocket is open and the session is ready."""

import discord

from captionbot.core.health import Check


def gateway_check(bot: discord.Client) -> Check:
    """Reads the bot's state from the health server's thread: plain attribute reads, no call into the loop."""

    def check() -> str | None:
        if bot.is_closed():
            return "the bot has closed its Discord gateway connection"
        if bot.ws is None or not bot.ws.open or not bot.is_ready():
            return "not connected to the Discord gateway"
        return None

    return check
