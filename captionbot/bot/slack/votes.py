"""Feedback under Slack caption replies (FEEDBACK_* settings): 👍/👎 (on /compare: which model is better) and
"Suggest a better caption", which opens a form (`views.open`) with one plain-text input.

The buttons carry the reply's token as their `value`; Bolt's `@app.action` / `@app.view` listeners are stateless,
so a click after a restart, or on another bot host, is understood the same. Every answer goes to the clicker
alone: an ephemeral message through the click's response_url (which works where the bot is not a member)."""

import json
import logging
import re
from collections.abc import Sequence

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from captionbot.bot import messages
from captionbot.bot.feedback_answers import UNREACHABLE, refusal, suggestion_answer, vote_answer
from captionbot.bot.recent_images import RecentImages
from captionbot.bot.slack.blocks import Block, context, plain_text
from captionbot.bot.slack.inflight import InFlight
from captionbot.core.jobs import JobResult, Mode, Options
from captionbot.feedback.schema import SUGGESTION_MAX
from captionbot.feedback.service import FeedbackService
from captionbot.feedback.shown import Place, ShownReply
from captionbot.feedback.text import SUGGESTION_MIN, SuggestionRefused, clean_suggestion

log = logging.getLogger(__name__)

VOTE_ACTION = re.compile(r"^feedback_vote_(up|down|pretrained|finetuned)$")
SUGGEST_ACTION = "feedback_suggest"
FORM = "feedback_form"
INPUT_BLOCK, INPUT_ACTION = "caption", "caption_input"
Captioned = tuple[JobResult, Mode, Options]


class SlackFeedback:
    """The feedback service (None where it is off) and this workspace's id, asked of `auth.test` once."""

    def __init__(self, feedback: FeedbackService | None, client: AsyncWebClient, job_images: RecentImages | None):
        self.feedback = feedback
        self.client = client
        self.job_images = job_images
        self._workspace: str | None = None

    async def workspace(self) -> str | None:
        if self._workspace is None:
            self._workspace = (await self.client.auth_test()).get("team_id")
        return self._workspace

    async def blocks(self, channel_id: str, captioned: Sequence[Captioned]) -> list[Block]:
        """The buttons for a caption reply and the footer that announces them; [] where feedback is off here, or
        when Redis cannot keep the reply (the caption goes out either way)."""
        if self.feedback is None or self.job_images is None or not captioned:
            return []
        try:
            place = Place("slack", await self.workspace(), channel_id)
            if not self.feedback.enabled(place):
                return []
            rows = []
            for index, (result, mode, options) in enumerate(captioned, 1):
                image = self.job_images.take(result.job_id)
                if image is not None:
                    token = await self.feedback.offer(ShownReply.from_result(place, result, image, mode, options))
                    rows.append(vote_actions(token, len(result.results) > 1, index if len(captioned) > 1 else None))
        except (*UNREACHABLE, SlackApiError):
            log.warning("feedback buttons left off a reply in channel %s: Redis or auth.test failed", channel_id)
            return []
        return [*rows, context(messages.FEEDBACK_FOOTER)] if rows else []


def _button(text: str, action_id: str, value: str, emoji: bool = True) -> dict:
    return {"type": "button", "text": {"type": "plain_text", "text": text, "emoji": emoji}, "action_id": action_id,
            "value": value}


def vote_actions(token: str, compare: bool, image_index: int | None) -> Block:
    if compare:
        votes = [
            _button(messages.FEEDBACK_PREFER.format(model=messages.MODEL_TITLES[name]), f"feedback_vote_{name}", token)
            for name in ("pretrained", "finetuned")
        ]
    else:
        votes = [_button(messages.FEEDBACK_UP, "feedback_vote_up", token),
                 _button(messages.FEEDBACK_DOWN, "feedback_vote_down", token)]
    label = messages.FEEDBACK_SUGGEST_FOR.format(index=image_index) if image_index else messages.FEEDBACK_SUGGEST
    elements = [*votes, _button(label, SUGGEST_ACTION, token)]
    return {"type": "actions", "block_id": f"feedback:{token}", "elements": elements}


def form_view(token: str, response_url: str | None) -> dict:
    """The form; its private_metadata keeps the token and where to answer the submitter."""
    return {
        "type": "modal",
        "callback_id": FORM,
        "private_metadata": json.dumps({"token": token, "response_url": response_url}),
        "title": {"type": "plain_text", "text": messages.FEEDBACK_FORM_TITLE},
        "submit": {"type": "plain_text", "text": messages.FEEDBACK_FORM_SUBMIT},
        "blocks": [
            {
                "type": "input",
                "block_id": INPUT_BLOCK,
                "label": {"type": "plain_text", "text": messages.FEEDBACK_FORM_LABEL},
                "element": {
                    "type": "plain_text_input",
                    "action_id": INPUT_ACTION,
                    "min_length": SUGGESTION_MIN,
                    "max_length": SUGGESTION_MAX,
                    "placeholder": {"type": "plain_text", "text": messages.FEEDBACK_FORM_PLACEHOLDER},
                },
            }
        ],
    }


def register(app: AsyncApp, slack_feedback: SlackFeedback, inflight: InFlight) -> None:
    async def answer(respond: AsyncRespond, text: str) -> None:
        await respond(text=plain_text(text), response_type="ephemeral", replace_original=False)

    @app.action(VOTE_ACTION)
    @inflight.track
    async def vote(ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        await ack()
        feedback = slack_feedback.feedback
        if feedback is None:
            await answer(respond, messages.FEEDBACK_OFF)
            return
        value = VOTE_ACTION.match(action["action_id"])[1]
        await answer(respond, await vote_answer(feedback, action["value"], "slack", body["user"]["id"], value))

    @app.action(SUGGEST_ACTION)
    @inflight.track
    async def open_form(ack: AsyncAck, body: dict, action: dict) -> None:
        await ack()
        view = form_view(action["value"], body.get("response_url"))
        # The app's own client: Bolt's per-request `client` adds `team_id` to every call, which is not one of
        # views.open's arguments (docs.slack.dev/reference/methods/views.open: view, trigger_id,
        # interactivity_pointer).
        await slack_feedback.client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(FORM)
    @inflight.track
    async def submit(ack: AsyncAck, body: dict, view: dict) -> None:
        """Text that cannot be a caption is refused in the form itself; the rest is answered privately."""
        text = view["state"]["values"][INPUT_BLOCK][INPUT_ACTION].get("value") or ""
        try:
            clean_suggestion(text)
        except SuggestionRefused as err:
            await ack(response_action="errors", errors={INPUT_BLOCK: refusal(err)})
            return
        await ack()
        meta = json.loads(view["private_metadata"])
        feedback = slack_feedback.feedback
        sentence = messages.FEEDBACK_OFF
        if feedback is not None:
            sentence = await suggestion_answer(feedback, meta["token"], "slack", body["user"]["id"], text)
        if meta.get("response_url"):
            await answer(AsyncRespond(response_url=meta["response_url"]), sentence)
