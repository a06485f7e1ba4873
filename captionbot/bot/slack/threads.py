"""Answering the images of one message in its thread: shared images (events) and the "Caption this image"
shortcut. Captions go in the thread for everyone; a refused or failed image is told to the person who asked
only (ephemeral), as is every answer where the bot cannot post."""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from captionbot.bot import messages
from captionbot.bot.slack.blocks import caption_text, context, failure_blocks, outcome_blocks
from captionbot.bot.slack.captioner import SlackCaptioner
from captionbot.bot.slack.feedback import working_reaction
from captionbot.bot.slack.files import SlackFile
from captionbot.bot.slack.votes import SlackFeedback
from captionbot.core.errors import CaptionError
from captionbot.core.jobs import JobResult, Mode, Options

log = logging.getLogger(__name__)

CANNOT_POST = ("not_in_channel", "channel_not_found", "is_archived", "restricted_action")
Respond = Callable[..., Awaitable[object]]


@dataclass(frozen=True)
class ImageMessage:
    channel_id: str
    ts: str
    thread_ts: str | None  # set when the message is itself a reply in a thread
    files: Sequence[dict]  # as Slack lists them

    @classmethod
    def from_event(cls, event: dict) -> "ImageMessage":
        return cls(event["channel"], event["ts"], event.get("thread_ts"), event.get("files") or [])

    @property
    def reply_ts(self) -> str:
        return self.thread_ts or self.ts


class ThreadAnswers:
    def __init__(self, captioner: SlackCaptioner, client: AsyncWebClient, feedback: SlackFeedback) -> None:
        self.captioner = captioner
        self.client = client
        self.feedback = feedback

    async def caption(
        self,
        message: ImageMessage,
        listed: Sequence[dict],
        user_id: str,
        *,
        images_only: bool,
        respond: Respond | None = None,
    ) -> None:
        """Caption `listed` (files of `message`). `images_only`: other files are skipped without a word (an
        auto-caption channel); otherwise each is answered as refused. `respond` reaches the asker where the bot
        cannot post (a shortcut on a message in a channel the bot is not in)."""
        files, failed = await self._files(listed, images_only)
        if not files and not failed:
            return
        async with working_reaction(self.client, message.channel_id, message.ts):
            outcomes = await self.captioner.caption_each(files, user_id)
            captioned = [(file, result) for file, result in zip(files, outcomes) if isinstance(result, JobResult)]
            failed += [(file.name, error) for file, error in zip(files, outcomes) if isinstance(error, CaptionError)]
            await self._post(message, captioned, respond)
            await self._tell_failures(message, user_id, failed, respond)

    async def _files(
        self, listed: Sequence[dict], images_only: bool
    ) -> tuple[list[SlackFile], list[tuple[str, CaptionError]]]:
        """The files to caption, and those refused already (only told when the asker meant them)."""
        resolved = await self.captioner.resolve_each(listed)
        files = [file for file in resolved if isinstance(file, SlackFile) and (file.is_image or not images_only)]
        failed = [
            (data.get("name") or data["id"], error)
            for data, error in zip(listed, resolved)
            if isinstance(error, CaptionError) and not images_only
        ]
        return files, failed

    async def _post(
        self, message: ImageMessage, captioned: list[tuple[SlackFile, JobResult]], respond: Respond | None
    ) -> None:
        if not captioned:
            return
        blocks, text = outcome_blocks(captioned), caption_text(captioned[0][1])
        shown = [(result, Mode.single, Options()) for _, result in captioned]
        blocks += await self.feedback.blocks(message.channel_id, shown)
        try:
            await self.client.chat_postMessage(
                channel=message.channel_id, thread_ts=message.reply_ts, blocks=blocks, text=text
            )
        except SlackApiError as err:
            if respond is None or err.response.get("error") not in CANNOT_POST:
                raise
            await respond(
                blocks=[*blocks, context(messages.SLACK_NOT_IN_CHANNEL_PRIVATE_ANSWER)],
                text=text,
                response_type="ephemeral",
            )

    async def _tell_failures(
        self, message: ImageMessage, user_id: str, failed: list[tuple[str, CaptionError]], respond: Respond | None
    ) -> None:
        if not failed:
            return
        log.info("not captioned in %s for %s: %s", message.channel_id, user_id, ", ".join(e.code for _, e in failed))
        if user_id or respond:  # another app's bot has no user to tell
            await self.tell(message, user_id, failure_blocks(failed), failed[0][1].message, respond)

    async def tell(
        self, message: ImageMessage, user_id: str, blocks: list[dict], text: str, respond: Respond | None = None
    ) -> None:
        """An ephemeral answer to `user_id`, in the thread when there is one (Slack shows ephemeral messages in
        a thread only once the thread exists)."""
        if respond is not None:
            await respond(blocks=blocks, text=text, response_type="ephemeral")
            return
        await self.client.chat_postEphemeral(
            channel=message.channel_id, user=user_id, thread_ts=message.thread_ts, blocks=blocks, text=text
        )
