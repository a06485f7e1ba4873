"""The Slack bot end to end in HTTP mode: signed requests POSTed through a real socket to the aiohttp server
`captionbot slack --http` runs, the real Redis, a real worker subprocess with tiny checkpoints, and Slack's Web
API answered by the local mock."""

import asyncio
import json
import signal
import socket
import sys

import aiohttp

from captionbot.bot import messages
from captionbot.bot.slack.modes import EVENTS_PATH, http_server
from tests.bot.slack import signed
from tests.bot.slack.harness import AUTO_CHANNEL, BOT_TOKEN, CHANNEL, MEMBER, SIGNING_SECRET, harness, image
from tests.bot.slack.mock_slack import MockSlack
from tests.bot.slack.signed import SlackRequest


async def post(session: aiohttp.ClientSession, url: str, request: SlackRequest, **signing: object) -> tuple[int, str]:
    headers = request.headers(signing.pop("secret", SIGNING_SECRET), **signing)
    async with session.post(url, data=request.body.encode(), headers=headers) as response:
        return response.status, await response.text()


def test_caption_command_and_shared_image_over_http(worker):
    async def scenario():
        async with harness(worker.settings) as h, http_server(h.bot.app, 0, "127.0.0.1") as port:
            url = f"http://127.0.0.1:{port}{EVENTS_PATH}"
            h.slack.post_message(CHANNEL, MEMBER, [h.slack.add_file(image(color=(250, 200, 0)), "lemon.png")])
            shared = h.shared([h.slack.add_file(image(color=(0, 90, 250)), "sea.png")])
            async with aiohttp.ClientSession() as session:
                challenge = SlackRequest(
                    json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"}), "application/json"
                )
                acks = {
                    "challenge": await post(session, url, challenge),
                    "command": await post(session, url, h.command("/caption")),
                    "event": await post(session, url, shared),
                    "retry": await post(session, url, shared, retry_num=1),
                    "forged": await post(session, url, h.command("/caption"), secret="forged"),
                }
                await h.slack.wait_for(lambda: len(h.slack.responses) == 2 and h.slack.called("chat.postMessage"))
                await h.settle()
            return acks, h.slack

    acks, slack = asyncio.run(scenario())
    assert acks["challenge"] == (200, json.dumps({"challenge": "c-123"}))
    assert acks["command"] == (200, messages.WORKING)
    assert acks["event"][0] == acks["retry"][0] == 200
    assert acks["forged"][0] == 401

    deleted, posted = slack.responses  # /caption: the note removed, the caption posted for the channel
    assert deleted["delete_original"] is True and posted["response_type"] == "in_channel"
    assert posted["blocks"][1]["elements"][0]["text"] == messages.model_label("finetuned", "v1")

    (reply,) = slack.called("chat.postMessage")  # the shared image: once, in its thread, retry or not
    assert reply["channel"] == AUTO_CHANNEL and reply["thread_ts"] == slack.history[AUTO_CHANNEL][0]["ts"]
    assert reply["blocks"][1]["elements"][0]["text"] == messages.model_label("finetuned", "v1")
    assert [hit.authorization for hit in slack.file_hits] == [f"Bearer {BOT_TOKEN}"] * 2


def test_captionbot_slack_http_serves_until_sigterm_and_logs_no_secret(worker, tmp_path):
    """The command itself: `captionbot -v slack --http` starts (auth.test), answers a shared image, and stops
    cleanly on SIGTERM; its debug-level log holds neither the bot token nor the signing secret."""

    async def scenario():
        async with MockSlack(BOT_TOKEN) as slack:
            port = free_port()
            env = {
                **worker.env,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.api_url,
                "SLACK_FILE_HOSTS": "127.0.0.1,localhost",
                "SLACK_AUTO_CAPTION_CHANNELS": AUTO_CHANNEL,
                "FETCH_LOOPBACK_FOR_TESTS": "true",
            }
            command = [sys.executable, "-m", "captionbot", "-v", "slack", "--http", "--port", str(port)]
            bot = await asyncio.create_subprocess_exec(*command, env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE)
            try:
                await slack.wait_for(lambda: slack.called("auth.test"), timeout=60)
                shared = signed.event(
                    signed.file_share(slack.post_message(AUTO_CHANNEL, MEMBER, [slack.add_file(image())]), AUTO_CHANNEL)
                )
                async with aiohttp.ClientSession() as session:
                    status = await post_when_listening(session, f"http://127.0.0.1:{port}{EVENTS_PATH}", shared)
                await slack.wait_for(lambda: slack.called("chat.postMessage"), timeout=60)
            finally:
                bot.send_signal(signal.SIGTERM)
                log = (await bot.stderr.read()).decode()
                returncode = await bot.wait()
            return status, returncode, log, slack

    status, returncode, log, slack = asyncio.run(scenario())
    assert status == 200 and returncode == 0, log
    assert "Sending a request" in log and "stopping; answers in flight:" in log
    # SIGTERM came as soon as the caption was posted: the answer in flight still finished (its reaction removed).
    assert len(slack.called("chat.postMessage")) == 1 and len(slack.called("reactions.remove")) == 1
    for secret in (BOT_TOKEN, SIGNING_SECRET):
        assert secret not in log


async def post_when_listening(session: aiohttp.ClientSession, url: str, request: SlackRequest) -> int:
    for _ in range(200):
        try:
            return (await post(session, url, request))[0]
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"nothing listens at {url}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
