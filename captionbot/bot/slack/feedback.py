"""A reaction on the image's message while its job runs, taken off when the answer is out. Feedback only: a
channel that refuses reactions (the bot is not in it, or the scope is missing) costs a debug line, nothing more."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

WORKING_REACTION = "hourglass_flowing_sand"


@asynccontextmanager
async def working_reaction(client: AsyncWebClient, channel_id: str, message_ts: str) -> AsyncIterator[None]:
    added = await _react(client.reactions_add, channel_id, message_ts)
    try:
        yield
    finally:
        if added:
            await _react(client.reactions_remove, channel_id, message_ts)


async def _react(call, channel_id: str, message_ts: str) -> bool:
    try:
        await call(channel=channel_id, timestamp=message_ts, name=WORKING_REACTION)
    except SlackApiError as err:
        log.debug("reaction on %s/%s refused: %s", channel_id, message_ts, err.response.get("error"))
        return False
    return True
