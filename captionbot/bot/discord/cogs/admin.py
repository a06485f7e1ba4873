"""`/reload-model` and `/models`, for the captioner's admins only.

Both are hidden from members without Manage Server (`default_permissions`), but that is a hint server admins
can change: `interaction_check` enforces DISCORD_ADMIN_USER_IDS / DISCORD_ADMIN_ROLE_IDS on every call."""

import logging

import discord
from discord import app_commands
from discord.ext import commands

from captionbot.bot.discord.checks import NotAdmin, is_admin
from captionbot.bot.discord.cogs.feedback import approval_embed
from captionbot.bot.discord.ids import DiscordIds
from captionbot.bot.discord.render import models_embed, reload_embed
from captionbot.bot.discord.replies import answer, think
from captionbot.bot.service import CaptionService

log = logging.getLogger(__name__)

VERSION_MAX_LENGTH = 64  # the longest registry version name (core/registry/layout.py, VERSION_PATTERN)


class Admin(commands.Cog):
    def __init__(self, service: CaptionService, ids: DiscordIds) -> None:
        self.service = service
        self.ids = ids

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not is_admin(interaction.user, self.ids):
            raise NotAdmin()
        return True

    @app_commands.command(name="reload-model")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def reload_model(
        self, interaction: discord.Interaction, version: app_commands.Range[str, 1, VERSION_MAX_LENGTH] | None = None
    ) -> None:
        """Load a fine-tuned model version on every worker and show each worker's answer (admins only).

        Args:
            version: Registry version to load (default: the registry's current version).
        """
        await think(interaction, private=True)
        log.info("user %s asked every worker to load %s", interaction.user.id, version or "the current version")
        replies = await self.service.reload(version)
        await answer(interaction, [reload_embed(version, replies)])

    @app_commands.command(name="models")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def models(self, interaction: discord.Interaction) -> None:
        """The fine-tuned versions available and the one each worker serves (admins only)."""
        await think(interaction, private=True)
        approval = await approval_embed(interaction.client)
        await answer(interaction, [models_embed(await self.service.status()), *approval])
