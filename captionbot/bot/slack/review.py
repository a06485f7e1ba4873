"""`/feedback` for SLACK_ADMIN_USER_IDS: this workspace's votes and suggestions, the latest with approve and reject
buttons. Suggestions are shown as `plain_text`, so nothing a member typed is ever read as mrkdwn."""

import logging
import re
from collections.abc import Collection

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from captionbot.bot import messages
from captionbot.bot.feedback_answers import UNREACHABLE
from captionbot.bot.feedback_summary import approval_lines, counts_text
from captionbot.bot.slack.blocks import SECTION_LIMIT, Block, escape, section
from captionbot.bot.slack.inflight import InFlight
from captionbot.bot.slack.votes import SlackFeedback
from captionbot.feedback.store import APPROVED, REJECTED, PendingSuggestion, ServerScope

log = logging.getLogger(__name__)

REVIEW_ACTION = re.compile(r"^feedback_review_(approve|reject)$")
STATUSES = {"approve": APPROVED, "reject": REJECTED}
LATEST = 5
PLAIN_LIMIT = 3000


def plain(text: str) -> Block:
    return {"type": "section", "text": {"type": "plain_text", "text": text[:PLAIN_LIMIT], "emoji": False}}


def suggestion_blocks(suggestion: PendingSuggestion) -> list[Block]:
    shown = "\n".join(messages.FEEDBACK_SHOWN.format(caption=c) for c in suggestion.shown.values())
    buttons = [
        {"type": "button", "style": "primary" if action == "approve" else "danger", "value": str(suggestion.id),
         "action_id": f"feedback_review_{action}",
         "text": {"type": "plain_text", "text": template.format(id=suggestion.id)}}
        for action, template in (("approve", messages.FEEDBACK_APPROVE), ("reject", messages.FEEDBACK_REJECT))
    ]
    return [
        plain(messages.FEEDBACK_SUGGESTION.format(id=suggestion.id, text=suggestion.text) + "\n" + shown),
        {"type": "actions", "block_id": f"feedback_review:{suggestion.id}", "elements": buttons},
    ]


def register(app: AsyncApp, slack_feedback: SlackFeedback, admin_ids: Collection[str], inflight: InFlight) -> None:
    async def scope() -> ServerScope:
        return ServerScope("slack", await slack_feedback.workspace())

    @app.command("/feedback")
    @inflight.track
    async def feedback_command(ack: AsyncAck, command: dict, respond: AsyncRespond) -> None:
        if command["user_id"] not in admin_ids:
            await ack(text=messages.ADMIN_ONLY)
            return
        await ack()
        if slack_feedback.feedback is None:
            await respond(text=messages.FEEDBACK_OFF, response_type="ephemeral")
            return
        store, where = slack_feedback.feedback.store, await scope()
        try:
            counts, latest = await store.counts(where), await store.suggestions(scope=where, limit=LATEST)
        except UNREACHABLE:
            log.warning("/feedback in workspace %s: the feedback database did not answer", where.server_id)
            await respond(text=messages.FEEDBACK_DB_UNREACHABLE, response_type="ephemeral")
            return
        blocks = [section(f"*{messages.FEEDBACK_TITLE}*\n{counts_text(counts)}")]
        for suggestion in latest:
            blocks.extend(suggestion_blocks(suggestion))
        if not latest:
            blocks.append(section(messages.FEEDBACK_NONE_WAITING))
        await respond(blocks=blocks, text=messages.FEEDBACK_TITLE, response_type="ephemeral")

    @app.action(REVIEW_ACTION)
    @inflight.track
    async def review(ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        await ack()
        if body["user"]["id"] not in admin_ids:
            await respond(text=messages.ADMIN_ONLY, response_type="ephemeral", replace_original=False)
            return
        if slack_feedback.feedback is None:  # a /feedback list from before feedback was turned off
            await respond(text=messages.FEEDBACK_OFF, response_type="ephemeral", replace_original=False)
            return
        suggestion_id, status = int(action["value"]), STATUSES[REVIEW_ACTION.match(action["action_id"])[1]]
        try:
            changed = await slack_feedback.feedback.store.review([suggestion_id], status, await scope())
        except UNREACHABLE:
            await respond(text=messages.FEEDBACK_UNAVAILABLE, response_type="ephemeral", replace_original=False)
            return
        template = messages.FEEDBACK_REVIEWED if changed else messages.FEEDBACK_NOT_FOUND
        await respond(text=template.format(id=suggestion_id, status=status), response_type="ephemeral",
                      replace_original=False)


async def approval_blocks(slack_feedback: SlackFeedback) -> list[Block]:
    """For `/models`: the approval rate per model version, where feedback is on."""
    if slack_feedback.feedback is None:
        return []
    try:
        lines = await approval_lines(slack_feedback.feedback.store)
    except UNREACHABLE:
        lines = [messages.FEEDBACK_UNAVAILABLE]
    title = f"*{messages.APPROVAL_TITLE}*\n"
    return [section(title + messages.join_capped([escape(line) for line in lines], SECTION_LIMIT - len(title)))]
