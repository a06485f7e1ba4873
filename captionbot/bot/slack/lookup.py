"""Which image a command means: the file behind a Slack file link, the latest image posted in a channel, or
the image of a thread's first message.

A link is never fetched: only the file id is read from it, and only from a link on the workspace's own host
or a Slack files host; the file itself comes from `files.info`, so no user can make the bot fetch an address of
their choosing. A file named by link must be shared in the channel the command was used in (or be public),
so a command cannot read out an image from a channel its user cannot see.
"""

import re
from urllib.parse import urlsplit

from slack_sdk.errors import SlackApiError

from captionbot.bot import messages
from captionbot.bot.fetch import FetchRefused, host_allowed
from captionbot.bot.slack.files import SlackFile, SlackFiles, needs_file_info
from captionbot.core.errors import CaptionError, ImageRejected

# F + upper-case letters and digits, as a whole path segment (…/files/U1/F0123ABC/name.png) or after the team id
# (…/files-pri/T0123-F0123ABC/download/name.png).
FILE_ID = re.compile(r"(?:^|[/-])(F[A-Z0-9]{6,})(?=[/-]|$)")
HISTORY_LIMIT = 50  # messages searched back for the latest image
CHANNEL_ACCESS_ERRORS = ("not_in_channel", "channel_not_found")


class ChannelUnreadable(CaptionError):
    code = "channel_unreadable"
    default_message = messages.SLACK_NOT_IN_CHANNEL


def file_id_from_link(link: str, workspace_url: str | None, file_hosts: list[str]) -> str:
    """The file id in a Slack file link; `FetchRefused` for any other link."""
    parts = urlsplit(link)
    host = (parts.hostname or "").lower()
    workspace_host = (urlsplit(workspace_url or "").hostname or "").lower()
    on_slack = parts.scheme in ("https", "http") and host and (host == workspace_host or host_allowed(link, file_hosts))
    match = FILE_ID.search(parts.path) if on_slack else None
    if match is None:
        raise FetchRefused(messages.SLACK_LINK_REFUSED)
    return match.group(1)


async def file_from_link(
    files: SlackFiles, link: str, channel_id: str, workspace_url: str | None, file_hosts: list[str]
) -> SlackFile:
    file = await files.info(file_id_from_link(link, workspace_url, file_hosts))
    if channel_id not in file.shared_in and not file.public:
        raise ImageRejected(messages.SLACK_FILE_NOT_SHARED_HERE)
    return file


def image_files(message: dict) -> list[dict]:
    """The files of a message that are images, or may be (Slack Connect files say what they are only when asked)."""
    return [
        f for f in message.get("files", ()) if needs_file_info(f) or str(f.get("mimetype", "")).startswith("image/")
    ]


async def latest_image(files: SlackFiles, channel_id: str) -> SlackFile:
    """The newest image among the channel's last HISTORY_LIMIT messages."""
    try:
        response = await files.client.conversations_history(channel=channel_id, limit=HISTORY_LIMIT)
    except SlackApiError as err:
        raise _channel_error(err) from err
    for message in response.get("messages", ()):
        candidates = image_files(message)
        if candidates:
            return await files.resolve(candidates[0])
    raise ImageRejected(messages.NO_IMAGE_FOUND)


async def thread_parent_files(files: SlackFiles, channel_id: str, thread_ts: str) -> list[dict]:
    """The files of a thread's first message (an "@captionbot" reply in an image's thread means that image)."""
    try:
        response = await files.client.conversations_replies(channel=channel_id, ts=thread_ts, limit=1)
    except SlackApiError as err:
        raise _channel_error(err) from err
    parents = [m for m in response.get("messages", ()) if m.get("ts") == thread_ts]
    return list(parents[0].get("files", ())) if parents else []


def _channel_error(err: SlackApiError) -> Exception:
    if err.response.get("error") in CHANNEL_ACCESS_ERRORS:
        return ChannelUnreadable()
    return err


async def command_image(files: SlackFiles, link: str | None, channel_id: str, workspace_url: str | None) -> SlackFile:
    """The file a command's link names, else the latest image in the command's channel."""
    if link:
        return await file_from_link(files, link, channel_id, workspace_url, files.settings.slack_file_hosts)
    return await latest_image(files, channel_id)
