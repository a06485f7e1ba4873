"""The tokens `captionbot slack` needs, checked before anything starts: one clear line for a missing or
mistaken one, and Slack's own verdict on the bot token (auth.test). A token's value is never printed."""

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from captionbot.bot import messages
from captionbot.core.settings import Settings

BOT_TOKEN_PREFIX = "xoxb-"
APP_TOKEN_PREFIX = "xapp-"


class StartupError(Exception):
    """`captionbot slack` cannot start: the message is one line for stderr, `status` the exit status."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def _value(secret) -> str:
    return secret.get_secret_value().strip() if secret is not None else ""


def credentials_problem(settings: Settings, http: bool) -> str | None:
    """Socket Mode needs the bot token and the app-level token; HTTP mode the bot token and the signing secret."""
    bot_token = _value(settings.slack_bot_token)
    if not bot_token:
        return messages.SLACK_BOT_TOKEN_MISSING
    if not bot_token.startswith(BOT_TOKEN_PREFIX):
        return messages.SLACK_TOKEN_WRONG_KIND.format(
            setting="SLACK_BOT_TOKEN", prefix=BOT_TOKEN_PREFIX, where=messages.SLACK_BOT_TOKEN_WHERE
        )
    if http:
        return None if _value(settings.slack_signing_secret) else messages.SLACK_SIGNING_SECRET_MISSING
    app_token = _value(settings.slack_app_token)
    if not app_token:
        return messages.SLACK_APP_TOKEN_MISSING
    if not app_token.startswith(APP_TOKEN_PREFIX):
        return messages.SLACK_TOKEN_WRONG_KIND.format(
            setting="SLACK_APP_TOKEN", prefix=APP_TOKEN_PREFIX, where=messages.SLACK_APP_TOKEN_WHERE
        )
    return None


async def verify_bot_token(client: AsyncWebClient) -> dict:
    """auth.test: who the bot is, in which workspace. `StartupError` when Slack refuses the token or is out of reach."""
    try:
        response = await client.auth_test()
    except SlackApiError as err:
        raise StartupError(messages.SLACK_TOKEN_REFUSED.format(error=err.response.get("error", "refused"))) from err
    except (aiohttp.ClientError, OSError) as err:
        raise StartupError(
            messages.SLACK_API_UNREACHABLE.format(url=client.base_url, error=type(err).__name__), status=1
        ) from err
    return response.data
