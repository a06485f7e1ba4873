"""Images shared in a channel the bot is in (`message` events of subtype `file_share`), and mentions.

Captioned always in SLACK_AUTO_CAPTION_CHANNELS and in direct messages to the bot, elsewhere when the post
mentions the bot. One upload may arrive as a `message` and as an `app_mention`, and each may be retried:
each file is claimed once per channel (dedupe.py), so one image gets one answer."""

from collections.abc import Collection

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from captionbot.bot import messages
from captionbot.bot.slack.blocks import section
from captionbot.bot.slack.dedupe import Dedupe
from captionbot.bot.slack.inflight import InFlight
from captionbot.bot.slack.lookup import thread_parent_files
from captionbot.bot.slack.threads import ImageMessage, ThreadAnswers


def register(
    app: AsyncApp, answers: ThreadAnswers, dedupe: Dedupe, auto_channels: Collection[str], inflight: InFlight
) -> None:
    async def caption_once(event: dict, *, images_only: bool) -> None:
        message = ImageMessage.from_event(event)
        claimed = [data for data in message.files if await dedupe.first_file(message.channel_id, data["id"])]
        if claimed:
            # Another app's bot posting images has no user: captioned, failures kept to the log.
            await answers.caption(message, claimed, event.get("user", ""), images_only=images_only)

    @app.event({"type": "message", "subtype": "file_share"})
    @inflight.track
    async def caption_shared_images(event: dict, context: AsyncBoltContext) -> None:
        asked = f"<@{context.bot_user_id}>" in event.get("text", "") or event.get("channel_type") == "im"
        if asked or event["channel"] in auto_channels:
            await caption_once(event, images_only=not asked)

    @app.event("app_mention")
    @inflight.track
    async def caption_on_mention(event: dict) -> None:
        """A mention with images captions them; a mention in an image's thread captions that image."""
        if event.get("files"):
            await caption_once(event, images_only=False)
            return
        thread_ts = event.get("thread_ts")
        parent_files = (
            await thread_parent_files(answers.captioner.files, event["channel"], thread_ts) if thread_ts else []
        )
        if parent_files:
            parent = ImageMessage(event["channel"], thread_ts, thread_ts, parent_files)
            await answers.caption(parent, parent_files, event["user"], images_only=False)
        else:
            how = messages.SLACK_MENTION_HOW
            await answers.tell(ImageMessage.from_event(event), event["user"], [section(how)], how)

    @app.event("message")
    async def ignore_other_messages() -> None:
        """Every other message in the bot's channels: acknowledged, or Slack would retry it, and left alone."""
