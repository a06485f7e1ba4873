"""Captions for images posted in messages: every image in an auto-caption channel (needs the message_content
intent), and wherever the bot is mentioned or sent a direct message (those carry their attachments without it).

Whoever mentions the bot asked: the reply covers each image, failures included. In an auto-caption channel nobody
asked: the reply carries only captions, and an image that got none is marked on the post with a reaction (retry
later, or refused), so a busy moment does not fill the channel with apologies."""

import logging

import discord
from discord.ext import commands

from captionbot.bot import messages
from captionbot.bot.discord.alt_text import described_files
from captionbot.bot.discord.captioner import Captioned, Captioner
from captionbot.bot.discord.cogs.feedback import feedback_extras
from captionbot.bot.discord.inflight import InFlight
from captionbot.bot.discord.intake import attachments_to_caption
from captionbot.bot.discord.render import outcome_embeds
from captionbot.core.errors import Busy, CaptionError, RateLimited, ServiceUnavailable, TimedOut

log = logging.getLogger(__name__)

TRY_LATER = (Busy, RateLimited, TimedOut, ServiceUnavailable)


class AutoCaption(commands.Cog):
    def __init__(
        self, bot: commands.Bot, captioner: Captioner, channel_ids: frozenset[int], inflight: InFlight
    ) -> None:
        self.bot = bot
        self.captioner = captioner
        self.channel_ids = channel_ids
        self.inflight = inflight

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """One reply per message, covering each of its images; the channel shows "typing" meanwhile."""
        if message.author.bot or self.bot.user is None:
            return
        addressed = message.guild is None or any(user.id == self.bot.user.id for user in message.mentions)
        if not (addressed or self._auto_caption_channel(message.channel)):
            return
        if self.inflight.stopping:
            if addressed:
                await self._reply(message, content=messages.RESTARTING)
            return
        with self.inflight.track():
            await self._caption(message, addressed)

    async def _caption(self, message: discord.Message, addressed: bool) -> None:
        attachments = attachments_to_caption(message, images_only=not addressed)
        if not attachments:
            if addressed:
                await self._reply(message, content=messages.DISCORD_NO_IMAGE_MENTION)
            return
        async with message.channel.typing():
            outcomes = await self.captioner.caption_each(attachments, message.author.id)
            captioned = [o for o in outcomes if isinstance(o, Captioned)]
            answer = await self._alt_text(captioned, message)
        embeds = outcome_embeds([(a.filename, o) for a, o in zip(attachments, outcomes, strict=True)])
        if not addressed:
            embeds = [e for e, o in zip(embeds, outcomes, strict=True) if isinstance(o, Captioned)]
            await self._mark_failures(message, [o for o in outcomes if isinstance(o, CaptionError)])
        if embeds:
            guild_id = message.guild and message.guild.id
            extras = await feedback_extras(self.bot, message.channel, guild_id, captioned, embeds)
            await self._reply(message, embeds=embeds, **answer, **extras)

    def _auto_caption_channel(self, channel: discord.abc.Messageable) -> bool:
        """The channel, or the channel a thread belongs to, is in DISCORD_AUTO_CAPTION_CHANNELS."""
        return (
            getattr(channel, "id", None) in self.channel_ids or getattr(channel, "parent_id", None) in self.channel_ids
        )

    async def _alt_text(self, captioned: list[Captioned], message: discord.Message) -> dict:
        """The reply's files (and a note when some did not fit) when DISCORD_ALT_TEXT is on."""
        if not self.captioner.settings.discord_alt_text or not captioned:
            return {}
        limit = message.guild.filesize_limit if message.guild else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
        reposts = await described_files(captioned, limit, self.captioner.settings.max_image_pixels)
        note = messages.DISCORD_REPOSTS_LEFT_OUT.format(count=reposts.left_out) if reposts.left_out else None
        return {"files": reposts.files, "content": note}

    async def _mark_failures(self, message: discord.Message, failures: list[CaptionError]) -> None:
        """A reaction per kind of failure on the post itself: seen by the poster, quiet for everyone else."""
        kinds = {
            messages.DISCORD_AUTO_CAPTION_RETRY if isinstance(f, TRY_LATER) else messages.DISCORD_AUTO_CAPTION_REFUSED
            for f in failures
        }
        for emoji in sorted(kinds):
            try:
                await message.add_reaction(emoji)
            except discord.HTTPException as err:
                log.info("could not react in channel %s: %s", message.channel.id, err)

    async def _reply(self, message: discord.Message, **answer: object) -> None:
        try:
            await message.reply(**answer, mention_author=False)
        except discord.HTTPException as err:
            log.warning("could not reply in channel %s: %s", message.channel.id, err)
