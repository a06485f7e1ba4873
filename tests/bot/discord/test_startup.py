"""Starting the bot: command sync, the intents it asks for, a refused message_content intent, and `run()`."""

import asyncio
import contextlib
import logging
import os
import signal
import sys

import pytest

from captionbot.bot import messages
from captionbot.bot.discord.app import run, serve, serve_until_stopped
from captionbot.core.settings import get_settings
from tests.bot.discord import payloads as p
from tests.bot.discord.fake_discord import FakeDiscord
from tests.bot.discord.harness import (
    TOKEN,
    Harness,
    async_test,
    bot_settings,
    discord_pointed_at,
    image_bytes,
    replies_to,
    running_bot,
)


def synced(harness: Harness, path: str) -> dict[str, dict]:
    (call,) = harness.fake.calls_to("PUT", path)
    return {command["name"]: command for command in call.body}


def options_of(command: dict) -> dict[str, dict]:
    return {option["name"]: option for option in command["options"]}


@async_test
async def test_commands_sync_to_the_listed_guild_with_descriptions_ranges_and_the_admin_hint(idle_settings):
    async with running_bot(idle_settings) as h:
        commands = synced(h, f"/guilds/{h.fake.guild_id}/commands")
        assert not h.fake.calls_to("PUT", f"/applications/{h.fake.application_id}/commands")  # no global sync
    assert set(commands) == {"caption", "compare", "reload-model", "models", "feedback", "Caption this image"}
    caption = options_of(commands["caption"])
    assert commands["caption"]["description"] == "Caption an image with the fine-tuned or the pretrained model."
    assert caption["image"]["type"] == 11 and caption["image"]["required"] is True
    assert caption["image"]["description"] == "The image to caption: JPEG, PNG, WebP, GIF or BMP."
    assert (caption["max_words"]["min_value"], caption["max_words"]["max_value"]) == (10, 50)
    assert (caption["beams"]["min_value"], caption["beams"]["max_value"]) == (1, 5)
    assert (
        caption["temperature"]["type"],
        caption["temperature"]["min_value"],
        caption["temperature"]["max_value"],
    ) == (10, 0.5, 2.0)
    assert caption["model"]["choices"] == [
        {"name": "Fine-tuned", "value": "finetuned"},
        {"name": "Pretrained", "value": "pretrained"},
    ]
    assert {"private", "variations"} <= set(caption)
    assert set(options_of(commands["compare"])) == {"image", "max_words", "beams", "private"}
    assert commands["Caption this image"]["type"] == 3
    for admin_command in ("reload-model", "models", "feedback"):
        assert str(commands[admin_command]["default_member_permissions"]) == "32"  # Manage Server: a hint only
        assert commands[admin_command]["contexts"] == [0]  # guild only
    assert commands["caption"]["default_member_permissions"] is None


@async_test
async def test_commands_sync_globally_when_asked(idle_settings):
    settings = idle_settings.model_copy(update={"discord_sync_global": True})
    fake = await FakeDiscord(TOKEN).start()
    try:
        with discord_pointed_at(fake):
            task = asyncio.create_task(serve(bot_settings(settings, fake, discord_guild_ids=[])))
            await fake.wait_until(lambda: fake.connected)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await fake.close()
    (call,) = fake.calls_to("PUT", "/commands")
    assert call.path == f"/applications/{fake.application_id}/commands"


@pytest.mark.parametrize("auto_caption_channels", [True, False])
@async_test
async def test_message_content_intent_is_asked_for_only_with_auto_caption_channels(
    idle_settings, auto_caption_channels
):
    overrides = {} if auto_caption_channels else {"discord_auto_caption_channels": []}
    async with running_bot(idle_settings, **overrides) as h:
        (identify,) = h.fake.identifies
    assert bool(identify["intents"] & p.MESSAGE_CONTENT_INTENT) is auto_caption_channels
    assert identify["token"] == TOKEN


@async_test
async def test_without_the_message_content_intent_it_logs_one_line_and_serves_mentions_and_commands(
    idle_settings, caplog
):
    """The portal has the intent off: Discord closes the gateway with 4014; the bot says so once and reconnects
    without it. Posted images in the auto-caption channel then arrive blanked; mentions and commands still work."""
    caplog.set_level(logging.INFO)
    fake = await FakeDiscord(TOKEN, message_content_allowed=False).start()
    try:
        with discord_pointed_at(fake):
            task = asyncio.create_task(serve(bot_settings(idle_settings, fake)))
            try:
                await fake.wait_until(lambda: fake.connected, timeout=30)
                h = Harness(fake)
                person = h.person()
                unseen = await h.post(
                    person, channel=fake.auto_channel, attachments=[h.attachment(image_bytes(), ephemeral=False)]
                )
                mention = await h.post(
                    person,
                    mention_bot=True,
                    attachments=[h.attachment(b"%PDF-1.7", "notes.pdf", "application/pdf", ephemeral=False)],
                )
                reply = await h.reply_to(mention)
                interaction = await h.slash(
                    person, "caption", {"image": h.attachment(b"%PDF-1.7", "notes.pdf", "application/pdf")}
                )
                answer = await h.answer(interaction)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        await fake.close()
    first, second = fake.identifies
    assert first["intents"] & p.MESSAGE_CONTENT_INTENT and not second["intents"] & p.MESSAGE_CONTENT_INTENT
    warnings = [
        r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("captionbot")
    ]
    assert warnings == [messages.AUTO_CAPTION_INTENT_OFF]
    assert reply.body["embeds"][0]["description"] == messages.NOT_AN_IMAGE_ATTACHMENT
    assert answer.body["embeds"][0]["description"] == messages.NOT_AN_IMAGE_ATTACHMENT
    assert not [c for c in fake.calls if replies_to(c, unseen)]
    assert not [c for c in fake.calls if c.method == "GET" and "attachments/" in c.path]


@async_test
async def test_sigterm_closes_the_gateway_and_returns(idle_settings):
    """`docker stop` sends SIGTERM: the bot leaves the gateway cleanly and `run()` returns 0."""
    fake = await FakeDiscord(TOKEN).start()
    try:
        with discord_pointed_at(fake):
            task = asyncio.create_task(serve_until_stopped(bot_settings(idle_settings, fake)))
            await fake.wait_until(lambda: fake.connected)
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # the loop's handler is in place
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(task, 10)
            await fake.wait_until(lambda: not fake.connected, timeout=10)
    finally:
        await fake.close()


def test_run_without_a_token_says_so_in_one_line_and_exits_2(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    get_settings.cache_clear()
    try:
        assert run() == 2
    finally:
        get_settings.cache_clear()
    assert capsys.readouterr().err == messages.DISCORD_TOKEN_MISSING + "\n"


def test_run_with_a_bad_id_setting_names_it_and_exits_2(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("DISCORD_ADMIN_ROLE_IDS", "123,admins")
    get_settings.cache_clear()
    try:
        assert run() == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("DISCORD_ADMIN_ROLE_IDS holds 'admins'") and err.count("\n") == 1


@async_test
async def test_captionbot_discord_with_a_refused_token_exits_2_and_never_prints_it(tmp_path, redis_url):
    """The real command line, verbose: Discord answers 401 to the token; one line, exit 2, the token nowhere."""
    fake = await FakeDiscord(TOKEN).start()
    wrong = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gwrong.abcdefghijklmnopqrstuvwxyz0123456789AB"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_"))}
    env.update(DISCORD_TOKEN=wrong, DISCORD_API_URL=fake.api_url, REDIS_URL=redis_url)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "captionbot",
            "-v",
            "discord",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await fake.close()
    assert process.returncode == 2, err.decode()
    assert err.decode().strip().splitlines()[-1] == messages.DISCORD_TOKEN_REFUSED
    assert wrong not in (out + err).decode()
    assert [c.path for c in fake.calls] == ["/users/@me"]
