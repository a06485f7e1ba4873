"""`/reload-model [version]` and `/models`, for SLACK_ADMIN_USER_IDS only (checked here, on every call:
anyone in the workspace can type a slash command)."""

import logging
from collections.abc import Collection

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from captionbot.bot import messages
from captionbot.bot.service import CaptionService
from captionbot.bot.slack.blocks import escape, models_blocks, reload_blocks
from captionbot.bot.slack.inflight import InFlight
from captionbot.bot.slack.review import approval_blocks
from captionbot.bot.slack.votes import SlackFeedback

log = logging.getLogger(__name__)


def register(
    app: AsyncApp, service: CaptionService, admin_ids: Collection[str], inflight: InFlight, feedback: SlackFeedback
) -> None:
    async def refused(ack: AsyncAck, command: dict) -> bool:
        if command["user_id"] in admin_ids:
            return False
        log.warning("user %s is not an admin and was refused %s", command["user_id"], command["command"])
        await ack(text=messages.ADMIN_ONLY)
        return True

    @app.command("/reload-model")
    @inflight.track
    async def reload_model(ack: AsyncAck, command: dict, respond: AsyncRespond) -> None:
        if await refused(ack, command):
            return
        words = command.get("text", "").split()
        if len(words) > 1:
            await ack(text=messages.SLACK_RELOAD_USAGE)
            return
        version = words[0] if words else None
        started = messages.SLACK_RELOAD_STARTED_CURRENT
        if version:
            started = messages.RELOAD_STARTED.format(version=escape(version))
        await ack(text=started)
        log.info("user %s asked every worker to load %s", command["user_id"], version or "the current version")
        replies = await service.reload(version)
        await respond(
            blocks=reload_blocks(version, replies), text=started, response_type="ephemeral", replace_original=True
        )

    @app.command("/models")
    @inflight.track
    async def list_models(ack: AsyncAck, command: dict, respond: AsyncRespond) -> None:
        if await refused(ack, command):
            return
        await ack()
        blocks = models_blocks(await service.status()) + await approval_blocks(feedback)
        await respond(blocks=blocks, text=messages.SLACK_MODELS_TITLE, response_type="ephemeral")
