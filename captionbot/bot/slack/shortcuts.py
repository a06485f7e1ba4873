"""The message shortcut "Caption this image": captions a message's images in its thread."""

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from captionbot.bot import messages
from captionbot.bot.slack.cooldown import Cooldown
from captionbot.bot.slack.inflight import InFlight
from captionbot.bot.slack.lookup import image_files
from captionbot.bot.slack.threads import ImageMessage, ThreadAnswers
from captionbot.core.errors import ImageRejected

CALLBACK_ID = "caption_this_image"  # as in deploy/slack-manifest.yml


def register(app: AsyncApp, answers: ThreadAnswers, cooldown: Cooldown, inflight: InFlight) -> None:
    @app.shortcut(CALLBACK_ID)
    @inflight.track
    async def caption_this_image(ack: AsyncAck, shortcut: dict, respond: AsyncRespond) -> None:
        await ack()
        posted = shortcut["message"]
        listed = image_files(posted)
        if not listed:
            raise ImageRejected(messages.SLACK_NO_IMAGE_ON_MESSAGE)
        await cooldown.check(shortcut["user"]["id"])
        message = ImageMessage(shortcut["channel"]["id"], posted["ts"], posted.get("thread_ts"), listed)
        await answers.caption(message, listed, shortcut["user"]["id"], images_only=False, respond=respond)
