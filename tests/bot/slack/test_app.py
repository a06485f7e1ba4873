"""`captionbot slack` itself: tokens checked before anything starts, requests' signatures checked in HTTP mode,
no secret in any log line, and a manifest that matches what the app handles."""

import asyncio
import logging
import sys
from pathlib import Path

import pytest
import yaml
from slack_bolt.request.async_request import AsyncBoltRequest

from captionbot.bot import messages
from captionbot.bot.slack import app as slack_app
from captionbot.bot.slack.credentials import StartupError, verify_bot_token
from captionbot.bot.slack.redact import REDACTED, RedactSecrets
from captionbot.bot.slack.shortcuts import CALLBACK_ID
from captionbot.core.settings import Settings, get_settings
from tests.bot.slack import signed
from tests.bot.slack.harness import APP_TOKEN, BOT_TOKEN, CHANNEL, MEMBER, SIGNING_SECRET, harness, image
from tests.bot.slack.mock_slack import MockSlack

MANIFEST = Path(__file__).parents[3] / "deploy" / "slack-manifest.yml"


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def environment(monkeypatch, tmp_path, redis_url):
    """A clean environment and no .env for `get_settings()`; returns a setter."""
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL", "METRICS_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REDIS_URL", redis_url)
    get_settings.cache_clear()
    yield monkeypatch.setenv
    get_settings.cache_clear()
    for handler in logging.getLogger().handlers:
        for redactor in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(redactor)


@pytest.mark.parametrize(
    ("http", "values", "line"),
    [
        (False, {}, messages.SLACK_BOT_TOKEN_MISSING),
        (False, {"SLACK_BOT_TOKEN": BOT_TOKEN}, messages.SLACK_APP_TOKEN_MISSING),
        (True, {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}, messages.SLACK_SIGNING_SECRET_MISSING),
        (
            False,
            {"SLACK_BOT_TOKEN": APP_TOKEN, "SLACK_APP_TOKEN": BOT_TOKEN},
            messages.SLACK_TOKEN_WRONG_KIND.format(
                setting="SLACK_BOT_TOKEN", prefix="xoxb-", where=messages.SLACK_BOT_TOKEN_WHERE
            ),
        ),
        (
            False,
            {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": BOT_TOKEN},
            messages.SLACK_TOKEN_WRONG_KIND.format(
                setting="SLACK_APP_TOKEN", prefix="xapp-", where=messages.SLACK_APP_TOKEN_WHERE
            ),
        ),
    ],
)
def test_a_missing_or_mistaken_token_is_one_line_on_stderr_and_exit_status_2(environment, capsys, http, values, line):
    for name, value in values.items():
        environment(name, value)
    assert slack_app.run(http=http, port=0) == 2
    out, err = capsys.readouterr()
    assert err == line + "\n" and out == ""
    assert BOT_TOKEN not in err and APP_TOKEN not in err


def test_an_unreachable_web_api_is_one_line_and_exit_status_1(environment, capsys):
    environment("SLACK_BOT_TOKEN", BOT_TOKEN)
    environment("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    environment("SLACK_API_URL", "http://127.0.0.1:9/api/")
    assert slack_app.run(http=True, port=0) == 1
    err = capsys.readouterr().err
    assert err.startswith("Could not reach Slack's Web API at http://127.0.0.1:9/api/") and err.count("\n") == 1


def test_a_token_slack_refuses_stops_the_start_with_slacks_reason(redis_url):
    async def scenario():
        async with MockSlack("xoxb-the-real-one") as slack:
            client = slack_app.web_client(
                Settings(slack_bot_token=BOT_TOKEN, slack_api_url=slack.api_url, _env_file=None)
            )
            with pytest.raises(StartupError) as refused:
                await verify_bot_token(client)
            return refused.value

    refused = run(scenario())
    assert refused.status == 2 and str(refused) == messages.SLACK_TOKEN_REFUSED.format(error="invalid_auth")


def test_http_requests_with_a_bad_or_stale_signature_are_refused(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            request = h.command("/caption", "help")
            forged = await h.dispatch(request, secret="not-the-signing-secret")
            stale_headers = request.headers(SIGNING_SECRET, timestamp=1_600_000_000)
            stale = await h.bot.app.async_dispatch(AsyncBoltRequest(body=request.body, headers=stale_headers))
            good = await h.dispatch(request)
            return forged, stale, good

    forged, stale, good = run(scenario())
    assert (forged.status, stale.status, good.status) == (401, 401, 200)


def test_no_secret_reaches_any_log_line_of_a_full_run(worker, caplog):
    caplog.set_level(logging.DEBUG)

    async def scenario():
        async with harness(worker.settings) as h:
            h.slack.post_message(CHANNEL, MEMBER, [h.slack.add_file(image(), redirect_to="other")])
            await h.dispatch(h.command("/caption"))
            await h.dispatch(h.shared([h.slack.add_file(image())]))
            await h.dispatch(h.command("/reload-model", user=MEMBER))
            await h.dispatch(h.command("/caption", "https://example.com/x.png"))
            await h.settle()
            return h.slack

    slack = run(scenario())
    assert len(slack.responses) == 3 and slack.called("chat.postMessage")  # it did run through
    assert "Sending a request" in caplog.text  # slack_sdk's debug lines were captured
    for secret in (BOT_TOKEN, SIGNING_SECRET, BOT_TOKEN.removeprefix("xoxb-")):
        assert secret not in caplog.text


def test_the_redaction_filter_cleans_messages_arguments_and_tracebacks():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token %s in %s", (BOT_TOKEN, "args"), None)
    try:
        raise RuntimeError(f"failed with {BOT_TOKEN}")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    RedactSecrets([BOT_TOKEN]).filter(record)
    assert record.getMessage() == f"token {REDACTED} in args"
    assert BOT_TOKEN not in record.exc_text and REDACTED in record.exc_text


def test_the_manifest_declares_what_the_app_handles(idle_settings):
    manifest = yaml.safe_load(MANIFEST.read_text())
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    (shortcut,) = manifest["features"]["shortcuts"]

    async def scenario():
        async with harness(idle_settings) as h:
            acks = [await h.dispatch(h.command(name, "help")) for name in commands]
            message = h.slack.post_message(CHANNEL, MEMBER, text="no image")
            acks.append(
                await h.dispatch(
                    signed.message_shortcut(shortcut["callback_id"], message, CHANNEL, MEMBER, h.slack.response_url())
                )
            )
            await h.settle()
            return acks

    assert sorted(commands) == ["/caption", "/compare", "/feedback", "/models", "/reload-model"]
    assert shortcut == {**shortcut, "type": "message", "callback_id": CALLBACK_ID, "name": "Caption this image"}
    assert [a.status for a in run(scenario())] == [200] * 6  # each one handled (Bolt answers 404 otherwise)


def test_the_manifest_grants_every_scope_the_bot_uses_and_no_more():
    manifest = yaml.safe_load(MANIFEST.read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert scopes == {
        "app_mentions:read",
        "channels:history",
        "groups:history",
        "im:history",
        "mpim:history",
        "chat:write",
        "commands",
        "files:read",
        "reactions:write",
    }
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert events == {"app_mention", "message.channels", "message.groups", "message.im", "message.mpim"}
    assert manifest["settings"]["socket_mode_enabled"] is True and manifest["settings"]["interactivity"]["is_enabled"]
