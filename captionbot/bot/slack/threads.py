"""Answering the images of one message in its thread: shared images (events) and the "Caption this image"
shortcut. Captions go in the thread for everyone; a refused or failed image is told to the person who asked
only (ephemeral), as is every answer where the bot cannot post."""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from captionbot.bot import messages
from captionbot.bot.slack.blocks import caption_text, context, failure_blocks, outcome_blocks, plain_text
from captionbot.bot.slack.captioner import SlackCaptioner
from captionbot.bot.slack.feedback import working_reaction
from captionbot.bot.slack.files import SlackFile
from captionbot.bot.slack.votes import SlackFeedback
from captionbot.core.errors import CaptionError
from captionbot.core.jobs import JobResult, Mode, Options

log = logging.getLogger(__name__)

NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found")
# chat.postMessage's errors for a channel or thread the bot may not post in (https://docs.slack.dev/reference/
# methods/chat.postMessage#errors): archived, or restricted (`restricted_action`, `…_read_only_channel`,
# `…_thread_only_channel`, `…_non_threadable_channel`, `…_thread_locked`).
ARCHIVED = "is_archived"
RESTRICTED = "restricted_action"


def cannot_post(error: str) -> bool:
    return error in NOT_IN_CHANNEL or error == ARCHIVED or error.startswith(RESTRICTED)
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
            await self._post(message, captioned, user_id, respond)
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
        self,
        message: ImageMessage,
        captioned: list[tuple[SlackFile, JobResult]],
        user_id: str,
        respond: Respond | None,
    ) -> None:
        """In the thread for everyone; where the bot may not post there, to the asker alone, saying why."""
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
            error = err.response.get("error", "")
            if not cannot_post(error) or not (user_id or respond):
                raise
            log.info("cannot post in %s (%s): the caption goes to %s alone", message.channel_id, error, user_id)
            why = messages.SLACK_CANNOT_POST_HERE
            if error in NOT_IN_CHANNEL:
                why = messages.SLACK_NOT_IN_CHANNEL_PRIVATE_ANSWER
            await self.tell(message, user_id, [*blocks, context(why)], text, respond)

    async def _tell_failures(
        self, message: ImageMessage, user_id: str, failed: list[tuple[str, CaptionError]], respond: Respond | None
    ) -> None:
        if not failed:
            return
        log.info("not captioned in %s for %s: %s", message.channel_id, user_id, ", ".join(e.code for _, e in failed))
        if user_id or respond:  # another app's bot has no user to tell
            await self.tell(message, user_id, failure_blocks(failed), plain_text(failed[0][1].message), respond)

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
