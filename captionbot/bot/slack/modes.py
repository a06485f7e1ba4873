"""The two ways the app reaches Slack. Socket Mode (the default): the bot dials out to Slack over a websocket
with the app-level token; nothing is exposed and there is nothing to sign. HTTP: Slack POSTs events, commands
and shortcuts to EVENTS_PATH, and the app checks each request's signature with the signing secret."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from captionbot.bot import messages
from captionbot.bot.slack.credentials import StartupError

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"  # the Request URL to give Slack: https://your.host/slack/events


@asynccontextmanager
async def socket_mode(app: AsyncApp, app_token: str) -> AsyncIterator[AsyncSocketModeHandler]:
    handler = AsyncSocketModeHandler(app, app_token)
    try:
        # The client retries a failed connect forever; ask for the websocket URL once first, so a refused app
        # token stops the start with Slack's reason.
        handler.client.wss_uri = await handler.client.issue_new_wss_url()
    except SlackApiError as err:
        await handler.close_async()
        raise StartupError(messages.SLACK_APP_TOKEN_REFUSED.format(error=err.response.get("error", "refused"))) from err
    await handler.connect_async()
    log.info("connected to Slack in Socket Mode")
    try:
        yield handler
    finally:
        await handler.close_async()


@asynccontextmanager
async def http_server(app: AsyncApp, port: int, host: str = "0.0.0.0") -> AsyncIterator[int]:
    """Serve the app over aiohttp on `port` (0: any free port); yields the port it listens on."""
    runner = web.AppRunner(app.web_app(path=EVENTS_PATH, port=port))
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        log.info("listening for Slack on http://%s:%d%s", host, bound, EVENTS_PATH)
        yield bound
    finally:
        await runner.cleanup()
