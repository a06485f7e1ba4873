"""`captionbot discord`: read the settings, start the bot, keep it up until stopped."""

import asyncio
import logging
import signal
import sys

import discord

from captionbot.bot import messages
from captionbot.bot.discord.bot import CaptionBot
from captionbot.bot.discord.gateway_health import gateway_check
from captionbot.bot.discord.ids import DiscordIds, InvalidDiscordId
from captionbot.bot.fetch import Fetcher
from captionbot.bot.service import CaptionService
from captionbot.core.health import Health
from captionbot.core.metrics import serve_metrics
from captionbot.core.redis_login import login_refused
from captionbot.core.settings import Settings, get_settings

log = logging.getLogger(__name__)


def run() -> int:
    """Exit status 2 with one line on stderr when the token is missing or refused, an id setting is bad, or Redis
    refuses REDIS_URL's login."""
    settings = get_settings()
    if settings.discord_token is None:
        print(messages.DISCORD_TOKEN_MISSING, file=sys.stderr)
        return 2
    refused = login_refused(settings.redis_url.get_secret_value())
    if refused:
        print(refused, file=sys.stderr)
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


async def serve_until_stopped(settings: Settings, health: Health | None = None, grace_s: float | None = None) -> None:
    """Serve until SIGTERM (docker stop, systemd) or Ctrl-C; then take no new work, let the work in flight finish
    within `grace_s` seconds (default: a job timeout and ten seconds) or tell its users to ask again, and close
    the gateway and the queue client cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop, settings.job_timeout_s + 10 if grace_s is None else grace_s, health)
    log.info("stopped")


async def serve(
    settings: Settings, stop: asyncio.Event | None = None, grace_s: float = 0.0, health: Health | None = None
) -> None:
    """Run the bot until it closes, or until `stop` is set (then drain it for up to `grace_s` seconds).

    It asks for the privileged message_content intent only when auto-caption channels are set. When Discord
    refuses it (not enabled in the developer portal), it logs one line and carries on without it: commands, the
    context menu, mentions and DMs need no such intent.
    """
    point_at_api(settings.discord_api_url)
    token = settings.discord_token.get_secret_value()
    message_content = bool(settings.discord_auto_caption_channels)
    service = CaptionService(settings)
    try:
        async with Fetcher(loopback_for_tests=settings.fetch_loopback_for_tests) as fetcher:
            while True:
                try:
                    async with CaptionBot(settings, service, fetcher, message_content=message_content) as bot:
                        if health is not None:
                            health.add("gateway", gateway_check(bot))
                        await _run(bot, token, stop, grace_s)
                    return
                except discord.PrivilegedIntentsRequired:
                    if not message_content:
                        raise
                    log.warning(messages.AUTO_CAPTION_INTENT_OFF)
                    message_content = False
    finally:
        await service.aclose()


async def _run(bot: CaptionBot, token: str, stop: asyncio.Event | None, grace_s: float) -> None:
    """`bot.start` until it ends (its errors raised here), or until `stop`: then drain, and close."""
    started = asyncio.create_task(bot.start(token))
    stopped = asyncio.create_task(stop.wait()) if stop is not None else None
    await asyncio.wait({started, stopped} - {None}, return_when=asyncio.FIRST_COMPLETED)
    if stopped is not None and not started.done():
        await bot.inflight.drain(grace_s)
        await bot.close()
    elif stopped is not None:
        stopped.cancel()
    await started


def point_at_api(url: str | None) -> None:
    """Send discord.py's REST calls (interaction callbacks and followups included) to `url` (DISCORD_API_URL)."""
    if url:
        discord.http.Route.BASE = url.rstrip("/")
