"""`captionbot discord`: read the settings, start the bot, keep it up until stopped."""

import asyncio
import logging
import signal
import sys

import aiohttp
import discord

from captionbot.bot import messages
from captionbot.bot.discord.bot import CaptionBot
from captionbot.bot.discord.gateway_health import gateway_check
from captionbot.bot.discord.ids import DiscordIds, InvalidDiscordId
from captionbot.bot.service import CaptionService
from captionbot.core.health import Health
from captionbot.core.metrics import serve_metrics
from captionbot.core.settings import Settings, get_settings

log = logging.getLogger(__name__)

# Downloads from Discord's CDN: a slow or stalled one must not hold a user's answer past the job timeout.
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)


def run() -> int:
    """Exit status 2 with one line on stderr when the token is missing or refused, or an id setting is bad."""
    settings = get_settings()
    if settings.discord_token is None:
        print(messages.DISCORD_TOKEN_MISSING, file=sys.stderr)
        return 2
    try:
        DiscordIds.from_settings(settings)
        health = serve_metrics(settings.metrics_port, settings)
        asyncio.run(serve_until_stopped(settings, health))
    except InvalidDiscordId as err:
        print(err, file=sys.stderr)
        return 2
    except discord.LoginFailure:
        print(messages.DISCORD_TOKEN_REFUSED, file=sys.stderr)
        return 2
    return 0


async def serve_until_stopped(settings: Settings, health: Health | None = None) -> None:
    """Serve until SIGTERM (docker stop, systemd) or Ctrl-C, closing the gateway and the queue client cleanly."""
    main = asyncio.current_task()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    try:
        await serve(settings, health)
    except asyncio.CancelledError:
        log.info("stopped")


async def serve(settings: Settings, health: Health | None = None) -> None:
    """Run the bot until it closes.

    It asks for the privileged message_content intent only when auto-caption channels are set. When Discord
    refuses it (not enabled in the developer portal), it logs one line and carries on without it: commands, the
    context menu, mentions and DMs need no such intent.
    """
    point_at_api(settings.discord_api_url)
    token = settings.discord_token.get_secret_value()
    message_content = bool(settings.discord_auto_caption_channels)
    service = CaptionService(settings)
    try:
        async with aiohttp.ClientSession(timeout=DOWNLOAD_TIMEOUT) as session:
            while True:
                try:
                    async with CaptionBot(settings, service, session, message_content=message_content) as bot:
                        if health is not None:
                            health.add("gateway", gateway_check(bot))
                        await bot.start(token)
                    return
                except discord.PrivilegedIntentsRequired:
                    if not message_content:
                        raise
                    log.warning(messages.AUTO_CAPTION_INTENT_OFF)
                    message_content = False
    finally:
        await service.aclose()


def point_at_api(url: str | None) -> None:
    """Send discord.py's REST calls (interaction callbacks and followups included) to `url` (DISCORD_API_URL)."""
    if url:
        discord.http.Route.BASE = url.rstrip("/")
