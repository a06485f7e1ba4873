"""Requests as Slack sends them: events as JSON, slash commands as a form, shortcuts as a form with a JSON
`payload`; each signed (v0 HMAC-SHA256 of `v0:timestamp:body` with the signing secret)."""

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from tests.bot.slack.mock_slack import TEAM_ID

API_APP_ID = "A0CAPTION"


@dataclass(frozen=True)
class SlackRequest:
    body: str
    content_type: str

    def headers(self, secret: str, *, retry_num: int | None = None, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        digest = hmac.new(secret.encode(), f"v0:{stamp}:{self.body}".encode(), hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": self.content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest}",
        }
        if retry_num is not None:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"})
        return headers


def event(payload: dict, event_id: str | None = None) -> SlackRequest:
    body = {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": API_APP_ID,
        "event": payload,
        "type": "event_callback",
        "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": "U0CAPBOT", "is_bot": True}],
    }
    return SlackRequest(json.dumps(body), "application/json")


def file_share(message: dict, channel: str, channel_type: str = "channel") -> dict:
    """The `message` event Slack sends for a post with files (`message` as MockSlack.post_message made it)."""
    return {**message, "channel": channel, "channel_type": channel_type, "event_ts": message["ts"]}


def app_mention(message: dict, channel: str) -> dict:
    mention = {k: v for k, v in message.items() if k not in ("subtype", "upload")}
    return {**mention, "type": "app_mention", "channel": channel, "event_ts": message["ts"]}


def command(name: str, text: str, user_id: str, channel_id: str, response_url: str) -> SlackRequest:
    return SlackRequest(
        urlencode(command_fields(name, text, user_id, channel_id, response_url)), "application/x-www-form-urlencoded"
    )


def command_fields(name: str, text: str, user_id: str, channel_id: str, response_url: str) -> dict[str, str]:
    """A slash command's fields: a form over HTTP, a JSON payload in Socket Mode."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "test",
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": name,
        "text": text,
        "api_app_id": API_APP_ID,
        "response_url": response_url,
        "trigger_id": f"{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex[:8]}",
    }


def message_shortcut(callback_id: str, message: dict, channel_id: str, user_id: str, response_url: str) -> SlackRequest:
    payload = {
        "type": "message_action",
        "token": "legacy-verification-token",
        "action_ts": f"{time.time():.6f}",
        "team": {"id": TEAM_ID, "domain": "test"},
        "user": {"id": user_id, "name": user_id.lower(), "team_id": TEAM_ID},
        "channel": {"id": channel_id, "name": "general"},
        "callback_id": callback_id,
        "trigger_id": f"{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex[:8]}",
        "message_ts": message["ts"],
        "message": message,
        "response_url": response_url,
    }
    return SlackRequest(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
