"""Slack files: what Slack says about one, whether it may be downloaded at all, and the download.

Type and size come from Slack's metadata and are checked before a byte is fetched. Files Slack marks
`file_access: check_file_info` (Slack Connect) carry no metadata until `files.info` is asked. The download
goes through `captionbot.bot.fetch`: https to SLACK_FILE_HOSTS only, every redirect re-checked, capped at
MAX_IMAGE_BYTES; the bot token goes in the Authorization header of requests to the scheme, host and port of
the URL Slack named (https) and of no other, so a redirect elsewhere, or to http, never carries it.
"""

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from captionbot.bot import messages
from captionbot.bot.fetch import Credentials, Fetcher, host_allowed
from captionbot.core.errors import CaptionError, ImageRejected, ImageUnsupported
from captionbot.core.images import MIME_TYPES, check_size
from captionbot.core.settings import Settings

log = logging.getLogger(__name__)

GONE_MODES = ("tombstone", "hidden_by_limit")  # deleted, or beyond a free workspace's history
# files.info's errors for a file the bot cannot see (https://docs.slack.dev/reference/methods/files.info#errors):
# not there, deleted, or not visible to this app (another workspace's, or a channel it is not in).
NOT_FOUND_ERRORS = ("file_not_found", "file_deleted", "access_denied", "not_visible")


class FileAccessDenied(CaptionError):
    code = "file_access_denied"
    default_message = messages.SLACK_FILE_ACCESS_DENIED


@dataclass(frozen=True)
class SlackFile:
    id: str
    name: str
    mimetype: str
    size: int
    download_url: str
    permalink: str = ""
    shared_in: frozenset[str] = frozenset()  # channel ids the bot can see it shared in
    public: bool = False

    @classmethod
    def from_api(cls, data: dict) -> "SlackFile":
        if data.get("mode") in GONE_MODES:
            raise ImageRejected(messages.SLACK_FILE_GONE)
        shares = data.get("shares") or {}
        shared_in = {*data.get("channels", ()), *data.get("groups", ()), *data.get("ims", ())}
        shared_in.update(*(kind.keys() for kind in shares.values() if isinstance(kind, dict)))
        return cls(
            id=data["id"],
            name=data.get("name") or data.get("title") or data["id"],
            mimetype=(data.get("mimetype") or "").lower(),
            size=int(data.get("size") or 0),
            download_url=data.get("url_private_download") or data.get("url_private") or "",
            permalink=data.get("permalink") or "",
            shared_in=frozenset(shared_in),
            public=bool(data.get("is_public")),
        )

    @property
    def is_image(self) -> bool:
        return self.mimetype.startswith("image/")


def needs_file_info(data: dict) -> bool:
    """Slack Connect files arrive as `{"id", "file_access": "check_file_info"}`, without metadata."""
    return data.get("file_access") == "check_file_info" or not (
        data.get("url_private_download") or data.get("url_private")
    )


class SlackFiles:
    def __init__(self, client: AsyncWebClient, fetcher: Fetcher, settings: Settings) -> None:
        self.client = client
        self._fetcher = fetcher
        self.settings = settings

    async def resolve(self, data: dict) -> SlackFile:
        """A file as an event or a message lists it, asking `files.info` first where Slack says to."""
        return await self.info(data["id"]) if needs_file_info(data) else SlackFile.from_api(data)

    async def info(self, file_id: str) -> SlackFile:
        try:
            response = await self.client.files_info(file=file_id)
        except SlackApiError as err:
            if err.response.get("error") in NOT_FOUND_ERRORS:
                raise ImageRejected(messages.SLACK_FILE_NOT_FOUND) from err
            raise
        return SlackFile.from_api(response["file"])

    def check(self, file: SlackFile) -> None:
        """Refuse from Slack's metadata alone: a type we cannot read, an empty or oversized file."""
        if file.mimetype not in MIME_TYPES:
            if file.is_image:
                kind = file.mimetype.removeprefix("image/").split("+")[0].upper()
                raise ImageUnsupported(messages.SLACK_UNSUPPORTED_TYPE.format(kind=kind))
            raise ImageUnsupported(messages.NOT_AN_IMAGE_ATTACHMENT)
        check_size(file.size, self.settings.max_image_bytes)

    async def download(self, file: SlackFile) -> bytes:
        settings = self.settings
        origin = (urlsplit(file.download_url).hostname or "").lower()
        if not host_allowed(file.download_url, settings.slack_file_hosts):
            log.warning("file %s is served from %s, which is not in SLACK_FILE_HOSTS", file.id, origin or "nowhere")
        token = Credentials(file.download_url, {"Authorization": f"Bearer {self.client.token}"})
        data = await self._fetcher.fetch(file.download_url, settings.slack_file_hosts, settings.max_image_bytes, token)
        if _is_web_page(data):
            # Slack answers a login page, not an error, when the token may not read the file.
            log.warning("Slack answered a web page for file %s: does the app have the files:read scope?", file.id)
            raise FileAccessDenied()
        return data


def _is_web_page(data: bytes) -> bool:
    head = data[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))
