"""Who may run what: admins by user or role id (the `default_permissions` hint alone is no check: server
admins can override it), and one per-user cooldown shared by the commands that queue a caption job."""

import discord
from discord import app_commands

from captionbot.bot.discord.ids import DiscordIds


class NotAdmin(app_commands.CheckFailure):
    """The user is not in DISCORD_ADMIN_USER_IDS and holds no role in DISCORD_ADMIN_ROLE_IDS."""


def is_admin(user: discord.User | discord.Member, ids: DiscordIds) -> bool:
    if user.id in ids.admin_users:
        return True
    return any(role.id in ids.admin_roles for role in getattr(user, "roles", ()))


def _cooldown(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    seconds = interaction.client.settings.command_cooldown_s
    return app_commands.Cooldown(1, seconds) if seconds > 0 else None


# One bucket per user across every command it decorates (COMMAND_COOLDOWN_S; 0 turns it off).
expensive_command_cooldown = app_commands.checks.dynamic_cooldown(_cooldown)
