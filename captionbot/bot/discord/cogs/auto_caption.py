"""Captions for images posted in messages: every image in an auto-caption channel (needs the message_content
intent), and wherever the bot is mentioned or sent a direct message (those carry their attachments without it)."""

import logging

import discord
from discord.ext import commands

from captionbot.bot import messages
from captionbot.bot.discord.alt_text import described_files
from captionbot.bot.discord.captioner import Captioned, Captioner
from captionbot.bot.discord.cogs.feedback import feedback_extras
from captionbot.bot.discord.intake import attachments_to_caption
from captionbot.bot.discord.render import outcome_embeds

log = logging.getLogger(__name__)


class AutoCaption(commands.Cog):
    def __init__(self, bot: commands.Bot, captioner: Captioner, channel_ids: frozenset[int]) -> None:
        self.bot = bot
        self.captioner = captioner
        self.channel_ids = channel_ids

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """One reply per message, covering each of its images; the channel shows "typing" meanwhile."""
        if message.author.bot or self.bot.user is None:
            return
        addressed = message.guild is None or any(user.id == self.bot.user.id for user in message.mentions)
        if not (addressed or self._auto_caption_channel(message.channel)):
            return
        attachments = attachments_to_caption(message, images_only=not addressed)
        if not attachments:
            if addressed:
                await self._reply(message, content=messages.DISCORD_NO_IMAGE_MENTION)
            return
        async with message.channel.typing():
            outcomes = await self.captioner.caption_each(attachments, message.author.id)
            captioned = [o for o in outcomes if isinstance(o, Captioned)]
            files = await self._described_files(captioned, message)
        embeds = outcome_embeds([(a.filename, o) for a, o in zip(attachments, outcomes, strict=True)])
        extras = await feedback_extras(self.bot, message.channel, message.guild and message.guild.id, captioned, embeds)
        await self._reply(message, embeds=embeds, files=files, **extras)

    def _auto_caption_channel(self, channel: discord.abc.Messageable) -> bool:
        """The channel, or the channel a thread belongs to, is in DISCORD_AUTO_CAPTION_CHANNELS."""
        return (
            getattr(channel, "id", None) in self.channel_ids or getattr(channel, "parent_id", None) in self.channel_ids
        )

    async def _described_files(self, captioned: list[Captioned], message: discord.Message) -> list[discord.File]:
        if not self.captioner.settings.discord_alt_text:
            return []
        limit = message.guild.filesize_limit if message.guild else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
        return await described_files(captioned, limit, self.captioner.settings.max_image_pixels)

    async def _reply(self, message: discord.Message, **answer: object) -> None:
        try:
            await message.reply(**answer, mention_author=False)
        except discord.HTTPException as err:
            log.warning("could not reply in channel %s: %s", message.channel.id, err)
