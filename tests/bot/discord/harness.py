"""The real `CaptionBot`, started against a `FakeDiscord`, and the people who use it: they run commands and
post messages through the gateway, and read the answers the bot sent to the REST API."""

import asyncio
import functools
import io
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import discord
import yarl
from discord.gateway import DiscordWebSocket
from PIL import Image
from pydantic import SecretStr

from captionbot.bot.discord.app import point_at_api
from captionbot.bot.discord.bot import CaptionBot
from captionbot.bot.fetch import Fetcher
from captionbot.bot.service import CaptionService
from captionbot.core.settings import Settings
from tests.bot.discord import payloads as p
from tests.bot.discord.fake_discord import Call, FakeDiscord, Message

TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0.GkT3st.x9Yp2bQ7vR4sW1zA8cE5fH0jL3nM6oK9uI2tY7"  # shaped like a bot token
ALL_PERMISSIONS = "2251799813685247"
MEMBER_PERMISSIONS = "1071698660929"  # @everyone's defaults: no Manage Server
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def async_test(test: Callable) -> Callable:
    """Run an `async def` test in a fresh event loop (fixtures are still passed by name)."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> object:
        return asyncio.run(test(*args, **kwargs))

    return run


def image_bytes(
    color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (96, 80), fmt: str = "PNG"
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: about 3 bytes a pixel, like a phone photo's file size."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, format="PNG")
    return out.getvalue()


@contextmanager
def discord_pointed_at(fake: FakeDiscord) -> Iterator[None]:
    """discord.py's REST base (as DISCORD_API_URL sets it) and gateway address on the fake; put back after."""
    base, gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    point_at_api(fake.api_url)
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


def bot_settings(settings: Settings, fake: FakeDiscord, **overrides: object) -> Settings:
    """`settings` plus the Discord ones for the fake's world: its guild, its auto-caption channel, its admin
    role and owner, and its CDN (a loopback host, over plain http: hence fetch_loopback_for_tests). An override
    may be a function of the fake (`lambda fake: [fake.guild_id]`)."""
    return settings.model_copy(
        update={
            "discord_token": SecretStr(TOKEN),
            "discord_api_url": fake.api_url,
            "discord_guild_ids": [fake.guild_id],
            "discord_auto_caption_channels": [fake.auto_channel["id"]],
            "discord_admin_user_ids": [fake.owner["id"]],
            "discord_admin_role_ids": [fake.admin_role["id"]],
            "discord_cdn_hosts": ["127.0.0.1"],
            "fetch_loopback_for_tests": True,
            "command_cooldown_s": 0.0,
            **{key: value(fake) if callable(value) else value for key, value in overrides.items()},
        }
    )


@dataclass
class Person:
    user: dict
    roles: list[str]
    permissions: str = MEMBER_PERMISSIONS

    @property
    def id(self) -> str:
        return self.user["id"]


class Harness:
    def __init__(self, fake: FakeDiscord, bot: CaptionBot | None = None, settings: Settings | None = None) -> None:
        self.fake = fake
        self.bot = bot
        self.settings = settings

    def person(self, name: str = "grace", roles: list[str] = (), permissions: str = MEMBER_PERMISSIONS) -> Person:
        """A new member (a new id each time, so per-user cooldowns and rate limits start fresh)."""
        return Person(p.user(p.snowflake(), name), list(roles), permissions)

    def admin(self) -> Person:
        """A member holding the admin role (DISCORD_ADMIN_ROLE_IDS)."""
        return self.person("root", [self.fake.admin_role["id"]], ALL_PERMISSIONS)

    def owner(self) -> Person:
        """The server owner, an admin by user id (DISCORD_ADMIN_USER_IDS) and with no role."""
        return Person(self.fake.owner, [], ALL_PERMISSIONS)

    def attachment(
        self,
        data: bytes,
        filename: str = "photo.png",
        content_type: str | None = "image/png",
        *,
        size: int | None = None,
        ephemeral: bool = True,
    ) -> dict:
        """An uploaded file, hosted on the fake CDN; `size` and `content_type` are what Discord reports."""
        url = self.fake.add_file(data, filename, content_type or "application/octet-stream", ephemeral=ephemeral)
        return p.attachment(
            url, filename, len(data) if size is None else size, content_type, width=96, height=80, ephemeral=ephemeral
        )

    async def slash(
        self, person: Person, name: str, attachments: dict[str, dict] | None = None, **options: object
    ) -> dict:
        command = self.fake.commands[name]
        data = p.slash_data(command, self.fake.guild_id, options, attachments or {})
        return await self._interact(person, data)

    async def context_menu(self, person: Person, target: dict) -> dict:
        command = self.fake.commands["Caption this image"]
        return await self._interact(person, p.message_command_data(command, self.fake.guild_id, target))

    async def _interact(self, person: Person, data: dict) -> dict:
        member = p.member(person.user, person.roles, person.permissions)
        interaction = p.interaction(
            self.fake.application_id, self.fake.guild_id, self.fake.channel, member, data, ALL_PERMISSIONS
        )
        await self.fake.dispatch("INTERACTION_CREATE", interaction)
        return interaction

    def message(
        self,
        person: Person,
        *,
        channel: dict | None = None,
        content: str = "",
        attachments: list[dict] = (),
        mention_bot: bool = False,
    ) -> dict:
        channel = channel or self.fake.channel
        mentions = [{**self.fake.bot_user, "member": p.member(None, [])}] if mention_bot else []
        if mention_bot:
            content = f"<@{self.fake.bot_user['id']}> {content}".strip()
        member = p.member(None, person.roles)
        return p.message(
            p.snowflake(), channel["id"], self.fake.guild_id, person.user, content, attachments, mentions, member
        )

    async def post(self, person: Person, **message: object) -> dict:
        data = self.message(person, **message)
        await self.fake.dispatch("MESSAGE_CREATE", data)
        return data

    # --- the bot's answers ------------------------------------------------------------------------------------
    def callback(self, interaction: dict) -> Call | None:
        return next(
            (
                c
                for c in self.fake.calls
                if c.path == f"/interactions/{interaction['id']}/{interaction['token']}/callback"
            ),
            None,
        )

    def shown(self, interaction: dict) -> list[Message]:
        """What the interaction left for people to see, as Discord keeps it: its messages, neither deleted nor
        still "thinking…", each with the visibility Discord gave it."""
        return [
            m
            for m in self.fake.messages
            if m.interaction_token == interaction["token"] and not m.deleted and not m.loading
        ]

    async def answer(self, interaction: dict, timeout: float = 60.0) -> Message:
        """The bot's answer: its immediate reply, its edited "thinking…", or its first followup."""
        return (await self.answers(interaction, 1, timeout))[0]

    async def answers(self, interaction: dict, count: int, timeout: float = 60.0) -> list[Message]:
        """The first `count` messages the interaction left for people to see."""

        def enough() -> list[Message] | None:
            shown = self.shown(interaction)
            return shown[:count] if len(shown) >= count else None

        return await self.fake.wait_until(enough, timeout)

    async def reply_to(self, message: dict, timeout: float = 60.0) -> Call:
        """The bot's reply in the channel to a posted message."""

        return await self.fake.wait_for_call(lambda call: replies_to(call, message), timeout)

    def downloads(self) -> list[Call]:
        return [c for c in self.fake.calls if c.method == "GET" and "attachments/" in c.path]


def replies_to(call: Call, message: dict) -> bool:
    reference = call.body.get("message_reference") if isinstance(call.body, dict) else None
    return call.method == "POST" and bool(reference) and str(reference.get("message_id")) == message["id"]


async def answered_in_the_end(fake: FakeDiscord, timeout: float) -> None:
    """Every "thinking…" the bot deferred is answered once its work is over (Discord would show it loading for
    15 minutes, then fail it): the end of every test with the bot waits for that, and fails when one is left."""
    try:
        await fake.wait_until(lambda: not fake.left_thinking(), timeout)
    except TimeoutError:
        left = [m.interaction_token for m in fake.left_thinking()]
        raise AssertionError(f"interactions deferred and never answered (left thinking): {left}") from None


@asynccontextmanager
async def running_bot(
    settings: Settings, *, message_content_allowed: bool = True, **overrides: object
) -> AsyncIterator[Harness]:
    """A fake Discord and the real bot connected to it, closed (gateway, queue client, server) afterwards."""
    fake = await FakeDiscord(TOKEN, message_content_allowed=message_content_allowed).start()
    try:
        with discord_pointed_at(fake):
            settings = bot_settings(settings, fake, **overrides)
            service = CaptionService(settings)
            async with Fetcher(loopback_for_tests=True) as fetcher:
                bot = CaptionBot(
                    settings, service, fetcher, message_content=bool(settings.discord_auto_caption_channels)
                )
                started = asyncio.create_task(bot.start(TOKEN))
                started.add_done_callback(lambda _: asyncio.ensure_future(fake.poke()))
                try:
                    await fake.wait_until(lambda: fake.connected or started.done(), timeout=30)
                    if started.done():
                        started.result()
                    yield Harness(fake, bot, settings)
                    await answered_in_the_end(fake, settings.job_timeout_s + 15)
                finally:
                    await bot.close()
                    await asyncio.wait_for(started, 10)
                    await service.aclose()
    finally:
        await fake.close()
