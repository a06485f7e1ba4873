"""Clicks and form submissions as Slack sends them: `block_actions` and `view_submission` payloads, form-encoded
and signed, built from the blocks and the view the bot really sent."""

import json
import time
import uuid
from urllib.parse import urlencode

from tests.bot.slack.mock_slack import TEAM_ID
from tests.bot.slack.signed import API_APP_ID, SlackRequest


def _form(payload: dict) -> SlackRequest:
    return SlackRequest(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


def _trigger() -> str:
    return f"{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex[:8]}"


def buttons(blocks: list[dict]) -> list[tuple[dict, dict]]:
    """(actions block, button) for every button in `blocks`."""
    return [(block, element) for block in blocks if block["type"] == "actions" for element in block["elements"]]


def block_action(block: dict, button: dict, user: str, channel: str, response_url: str) -> SlackRequest:
    """A click on `button` of a message the bot posted."""
    action = {
        "type": "button", "action_id": button["action_id"], "block_id": block["block_id"], "value": button["value"],
        "text": button["text"], "action_ts": f"{time.time():.6f}",
    }
    return _form({
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": "legacy-verification-token",
        "container": {"type": "message", "channel_id": channel, "is_ephemeral": False},
        "trigger_id": _trigger(),
        "team": {"id": TEAM_ID, "domain": "test"},
        "channel": {"id": channel, "name": "general"},
        "message": {"type": "message", "ts": f"{time.time():.6f}", "blocks": [block]},
        "response_url": response_url,
        "actions": [action],
    })


def view_submission(view: dict, user: str, value: str) -> SlackRequest:
    """`view` (as the bot sent it to views.open) submitted with `value` in its one plain-text input."""
    (block,) = [b for b in view["blocks"] if b["type"] == "input"]
    state = {block["block_id"]: {block["element"]["action_id"]: {"type": "plain_text_input", "value": value}}}
    return _form({
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": "legacy-verification-token",
        "trigger_id": _trigger(),
        "view": {**view, "id": "V" + uuid.uuid4().hex[:10].upper(), "team_id": TEAM_ID, "state": {"values": state}},
        "response_urls": [],
    })
