"""The Slack bot's health check in Socket Mode: its websocket to Slack is connected and answering pings."""

import asyncio

from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient

from captionbot.core.health import Check, on_loop


def socket_check(client: AsyncBaseSocketModeClient) -> Check:
    async def probe() -> str | None:
        return None if await client.is_connected() else "not connected to Slack's Socket Mode"

    return on_loop(asyncio.get_running_loop(), probe)
