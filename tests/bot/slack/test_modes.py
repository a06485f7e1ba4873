"""Socket Mode, the default: the bot opens a websocket to Slack with the app-level token, acknowledges each
envelope on it, and answers through the Web API as in HTTP mode. (HTTP mode through a real socket is in
tests/integration/test_slack_http.py.)"""

import asyncio
import json

import pytest

from captionbot.bot import messages
from captionbot.bot.slack.credentials import StartupError
from captionbot.bot.slack.modes import socket_mode
from tests.bot.slack import signed
from tests.bot.slack.harness import APP_TOKEN, AUTO_CHANNEL, CHANNEL, MEMBER, harness, image


def run(coro):
    return asyncio.run(coro)


def test_socket_mode_acknowledges_envelopes_and_answers_an_event_and_a_command(worker):
    async def scenario():
        async with harness(worker.settings, verify_requests=False) as h, socket_mode(h.bot.app, APP_TOKEN):
            slack = h.slack
            shared = slack.post_message(AUTO_CHANNEL, MEMBER, [slack.add_file(image())])
            event_envelope = await slack.send_envelope(
                "events_api", json.loads(signed.event(signed.file_share(shared, AUTO_CHANNEL)).body)
            )
            await slack.wait_for(lambda: slack.called("chat.postMessage"))
            slack.post_message(CHANNEL, MEMBER, [slack.add_file(image(color=(10, 10, 240)))])
            command = signed.command_fields("/caption", "private", MEMBER, CHANNEL, slack.response_url())
            command_envelope = await slack.send_envelope("slash_commands", command)
            await slack.wait_for(lambda: slack.responses)
            await h.settle()
            return slack, event_envelope, command_envelope, shared

    slack, event_envelope, command_envelope, shared = run(scenario())
    assert slack.calls[0].method == "apps.connections.open"
    acks = {ack["envelope_id"]: ack for ack in slack.socket_acks}
    assert acks[event_envelope] == {"envelope_id": event_envelope}
    assert acks[command_envelope]["payload"] == {"text": messages.WORKING}
    (reply,) = slack.called("chat.postMessage")
    assert reply["thread_ts"] == shared["ts"]
    (answer,) = slack.responses
    assert answer["response_type"] == "ephemeral" and answer["blocks"][0]["text"]["text"].startswith(
        f"*{messages.CAPTION_TITLE}*"
    )


def test_an_app_token_slack_refuses_stops_the_start_with_slacks_reason(idle_settings):
    async def scenario():
        async with harness(idle_settings, verify_requests=False) as h:
            h.slack.app_token = "xapp-another-one"
            with pytest.raises(StartupError) as refused:
                async with socket_mode(h.bot.app, APP_TOKEN):
                    pass
            return refused.value

    refused = run(scenario())
    assert refused.status == 2 and str(refused) == messages.SLACK_APP_TOKEN_REFUSED.format(error="invalid_auth")
