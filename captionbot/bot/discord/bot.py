"""The Discord bot: one cog per feature, the shared command tree, and command sync at start."""

import logging

import discord
from discord.ext import commands

from captionbot.bot.discord.captioner import Captioner
from captionbot.bot.discord.cogs.admin import Admin
from captionbot.bot.discord.cogs.auto_caption import AutoCaption
from captionbot.bot.discord.cogs.caption_commands import CaptionCommands
from captionbot.bot.discord.cogs.feedback import Feedback
from captionbot.bot.discord.ids import DiscordIds
from captionbot.bot.discord.inflight import InFlight
from captionbot.bot.discord.tree import CaptionTree
from captionbot.bot.fetch import Fetcher
from captionbot.bot.service import CaptionService
from captionbot.core.settings import Settings

log = logging.getLogger(__name__)


class CaptionBot(commands.Bot):
    def __init__(
        self, settings: Settings, service: CaptionService, fetcher: Fetcher, *, message_content: bool
    ) -> None:
        """`message_content`: ask Discord for the privileged intent that auto-caption channels need."""
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice here: no warning about it
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
            tree_cls=CaptionTree,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.settings = settings
        self.service = service
        self.ids = DiscordIds.from_settings(settings)
        self.inflight = InFlight()
        self.captioner = Captioner(settings, service, fetcher)

    async def setup_hook(self) -> None:
        await self.add_cog(AutoCaption(self, self.captioner, self.ids.auto_caption_channels, self.inflight))
        await self.add_cog(CaptionCommands(self, self.captioner))
        await self.add_cog(Admin(self.service, self.ids))
        await self.add_cog(Feedback(self))
        await self.sync_commands()

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands here (posted images are the AutoCaption cog's), so nothing to parse."""

    async def sync_commands(self) -> None:
        """To each guild in DISCORD_GUILD_IDS (instant), and globally with DISCORD_SYNC_GLOBAL (up to an hour)."""
        for guild_id in sorted(self.ids.guilds):
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                synced = await self.tree.sync(guild=guild)
            except discord.Forbidden:
                log.error(
                    "could not add commands to guild %s: invite the bot there with the applications.commands scope",
                    guild_id,
                )
                continue
            log.info("commands synced to guild %s: %s", guild_id, ", ".join(c.name for c in synced))
        if self.settings.discord_sync_global:
            synced = await self.tree.sync()
            log.info("commands synced globally (may take up to an hour to show): %s", ", ".join(c.name for c in synced))
        if not self.ids.guilds and not self.settings.discord_sync_global:
            log.warning("commands not synced: set DISCORD_GUILD_IDS (instant) or DISCORD_SYNC_GLOBAL=true")
