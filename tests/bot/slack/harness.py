"""The real Slack app (`open_app`: Bolt's AsyncApp with every listener, the real caption service, Redis) wired to
a MockSlack, and signed requests dispatched to it as Slack would send them."""

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from PIL import Image
from pydantic import SecretStr
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from captionbot.bot.slack.app import SlackBot, open_app
from captionbot.core.settings import Settings
from tests.bot.slack import signed
from tests.bot.slack.mock_slack import FILES_HOST, OTHER_HOST, MockSlack

BOT_TOKEN = "xoxb-0000000000-test-bot-token-" + uuid.uuid4().hex
APP_TOKEN = "xapp-1-A0CAPTION-test-app-token-" + uuid.uuid4().hex
SIGNING_SECRET = "test-signing-secret-" + uuid.uuid4().hex
ADMIN = "U0ADMIN"
MEMBER = "U0MEMBER"
AUTO_CHANNEL = "C0AUTO"
CHANNEL = "C0GENERAL"


def image(fmt: str = "PNG", color: tuple[int, int, int] = (200, 40, 40), size: tuple[int, int] = (96, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


def slack_settings(base: Settings, slack: MockSlack, **changes: object) -> Settings:
    values = {
        "slack_bot_token": SecretStr(BOT_TOKEN),
        "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "slack_app_token": SecretStr(APP_TOKEN),
        "slack_api_url": slack.api_url,
        "slack_file_hosts": [FILES_HOST, OTHER_HOST],
        "slack_admin_user_ids": [ADMIN],
        "slack_auto_caption_channels": [AUTO_CHANNEL],
        "fetch_loopback_for_tests": True,  # the local server is plain http on loopback
        "command_cooldown_s": 0.0,
    }
    return base.model_copy(update={**values, **changes})


@dataclass
class Harness:
    slack: MockSlack
    bot: SlackBot
    settings: Settings

    async def dispatch(
        self, request: signed.SlackRequest, *, retry_num: int | None = None, secret: str = SIGNING_SECRET
    ) -> BoltResponse:
        headers = request.headers(secret, retry_num=retry_num)
        return await self.bot.app.async_dispatch(AsyncBoltRequest(body=request.body, headers=headers))

    async def settle(self, timeout: float = 60.0) -> None:
        """Wait until every listener run is over. Bolt starts an event's listener in a task after the ack;
        yielding to the loop first lets it begin."""
        for _ in range(3):
            await asyncio.sleep(0)
        assert await self.bot.inflight.wait_idle(timeout), "listeners still running"

    def command(self, name: str, text: str = "", user: str = MEMBER, channel: str = CHANNEL) -> signed.SlackRequest:
        return signed.command(name, text, user, channel, self.slack.response_url())

    def shared(
        self, files: list[dict], channel: str = AUTO_CHANNEL, user: str = MEMBER, text: str = "", **where: object
    ) -> signed.SlackRequest:
        """A post with files in `channel`, and the `message` event Slack sends for it."""
        message = self.slack.post_message(channel, user, files, text)
        return signed.event(signed.file_share(message, channel, **where))


@asynccontextmanager
async def harness(base: Settings, *, verify_requests: bool = True, **changes: object) -> AsyncIterator[Harness]:
    """`verify_requests=False`: the app as Socket Mode runs it."""
    async with MockSlack(BOT_TOKEN, APP_TOKEN) as slack:
        settings = slack_settings(base, slack, **changes)
        async with open_app(settings, verify_requests=verify_requests) as bot:
            yield Harness(slack, bot, settings)
