"""The one `@app.error`: every failure a listener raises after its ack ends here. A `CaptionError` carries the
sentence to show; anything else is logged with its cause and answered with a general apology. Commands
answer in place of their "Captioning…" note, shortcuts with a message only the user sees."""

import logging

from slack_bolt.context.respond.async_respond import AsyncRespond

from captionbot.bot import messages
from captionbot.bot.slack.blocks import plain_text
from captionbot.core.errors import CaptionError

log = logging.getLogger(__name__)


async def answer_error(error: Exception, body: dict, respond: AsyncRespond | None) -> None:
    if isinstance(error, CaptionError):
        log.info("answered %s: %s", error.code, error.message)
        text = error.message
    else:
        log.error("a Slack listener failed on a %s request", _kind(body), exc_info=error)
        text = messages.UNEXPECTED
    if respond is None:  # events: no response_url; their listeners answer their own failures
        return
    await respond(text=plain_text(text), response_type="ephemeral", replace_original="command" in body)


def _kind(body: dict) -> str:
    return body.get("command") or (body.get("event") or {}).get("type") or body.get("type") or "unknown"
