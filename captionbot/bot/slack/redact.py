"""Secrets never reach a log line: a filter on the log handlers replaces the values of the bot token, the
app-level token, the signing secret and the Redis URL's password wherever they would appear, tracebacks
included. The code logs none of them; this catches a library that would."""

import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from captionbot.core.settings import Settings

REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self._secrets):
            record.msg, record.args = self._clean(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
        return True


def slack_secrets(settings: Settings) -> list[str]:
    values = [settings.slack_bot_token, settings.slack_app_token, settings.slack_signing_secret]
    secrets = [value.get_secret_value() for value in values if value is not None]
    password = urlsplit(settings.redis_url.get_secret_value()).password
    return secrets + ([password] if password else [])


def redact_secrets(settings: Settings, logger: logging.Logger | None = None) -> RedactSecrets:
    """Install the filter on every handler of `logger` (the root logger by default)."""
    redactor = RedactSecrets(slack_secrets(settings))
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(redactor)
    return redactor
