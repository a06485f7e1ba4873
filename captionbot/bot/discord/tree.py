"""The command tree with the one error handler every slash command and context menu goes through, and the one
place every command is tracked as work in flight (so a shutdown can wait for it, or refuse new commands)."""

import logging
import math

import discord
from discord import app_commands

from captionbot.bot import messages
from captionbot.bot.discord.checks import NotAdmin
from captionbot.bot.discord.render import failure_embed
from captionbot.bot.discord.replies import tell_privately
from captionbot.core.errors import CaptionError

log = logging.getLogger(__name__)


class CaptionTree(app_commands.CommandTree):
    async def _call(self, interaction: discord.Interaction) -> None:
        """discord.py's dispatch of one interaction (checks, the command, the error handler), tracked whole."""
        with self.client.inflight.track(interaction):
            await super()._call(interaction)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """While the bot stops, new commands are told to ask again instead of being started."""
        if self.client.inflight.stopping:
            await _send(interaction, content=messages.RESTARTING)
            return False
        return True

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Answer every failure with a sentence only the user sees, whatever was sent before."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        answer: dict = {}
        if isinstance(cause, app_commands.CommandOnCooldown):
            answer["content"] = messages.COOLDOWN.format(seconds=math.ceil(cause.retry_after))
        elif isinstance(cause, NotAdmin):
            log.warning("user %s was refused %s: not an admin", interaction.user.id, _command_name(interaction))
            answer["content"] = messages.ADMIN_ONLY
        elif isinstance(cause, CaptionError):
            log.info("%s answered %s: %s", _command_name(interaction), cause.code, cause.message)
            answer["embed"] = failure_embed(cause)
        else:
            log.error("%s failed", _command_name(interaction), exc_info=cause)
            answer["content"] = messages.UNEXPECTED
        await _send(interaction, **answer)


async def _send(interaction: discord.Interaction, **answer: object) -> None:
    try:
        await tell_privately(interaction, **answer)
    except discord.HTTPException as err:
        log.warning("could not answer interaction %s: %s", interaction.id, err)


def _command_name(interaction: discord.Interaction) -> str:
    command = interaction.command
    return (
        f"/{command.qualified_name}"
        if isinstance(command, app_commands.Command)
        else repr(getattr(command, "name", "?"))
    )
