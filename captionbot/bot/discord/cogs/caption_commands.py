"""`/caption`, `/compare` and the "Caption this image" message context menu."""

import discord
from discord import app_commands
from discord.ext import commands

from captionbot.bot import messages
from captionbot.bot.discord.alt_text import described_files
from captionbot.bot.discord.captioner import Captioned, Captioner
from captionbot.bot.discord.checks import expensive_command_cooldown
from captionbot.bot.discord.cogs.feedback import feedback_extras
from captionbot.bot.discord.intake import attachments_to_caption
from captionbot.bot.discord.render import caption_embed, compare_embed, outcome_embeds
from captionbot.bot.discord.replies import answer, tell_privately, think
from captionbot.core.errors import ImageRejected
from captionbot.core.jobs import BEAMS, MAX_WORDS, MODEL_NAMES, TEMPERATURE, Mode, make_options

MaxWords = app_commands.Range[int, MAX_WORDS[0], MAX_WORDS[1]]
Beams = app_commands.Range[int, BEAMS[0], BEAMS[1]]
Temperature = app_commands.Range[float, TEMPERATURE[0], TEMPERATURE[1]]
MODEL_CHOICES = [app_commands.Choice(name=messages.MODEL_TITLES[name], value=name) for name in MODEL_NAMES]


class CaptionCommands(commands.Cog):
    def __init__(self, bot: commands.Bot, captioner: Captioner) -> None:
        self.bot = bot
        self.captioner = captioner
        self.alt_text = captioner.settings.discord_alt_text
        # Context menus cannot be declared in a class: build one around a bound method and add it to the tree.
        self.menu = app_commands.ContextMenu(name=messages.DISCORD_CAPTION_MENU, callback=self.caption_message)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="caption")
    @app_commands.choices(model=MODEL_CHOICES)
    @expensive_command_cooldown
    async def caption(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        model: str = "finetuned",
        variations: bool = False,
        max_words: MaxWords | None = None,
        beams: Beams | None = None,
        temperature: Temperature | None = None,
        private: bool = False,
    ) -> None:
        """Caption an image with the fine-tuned or the pretrained model.

        Args:
            image: The image to caption: JPEG, PNG, WebP, GIF or BMP.
            model: Which model writes the caption (default: fine-tuned).
            variations: Three sampled captions instead of one.
            max_words: Longest caption, in words (10-50; default 20).
            beams: Beam search width (1-5; default 3); more is slower and steadier.
            temperature: How adventurous the variations are (0.5-2.0; default 1.0).
            private: Only you see the answer.
        """
        self.captioner.check(image)
        await think(interaction, private=private)
        mode = Mode.variations if variations else Mode.single
        options = make_options(max_words=max_words, beams=beams, temperature=temperature)
        captioned = await self.captioner.caption(image, interaction.user.id, (model,), mode, options)
        await self._answer(interaction, [caption_embed(captioned.result, mode, spoiler=captioned.spoiler)], [captioned])

    @app_commands.command(name="compare")
    @expensive_command_cooldown
    async def compare(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        max_words: MaxWords | None = None,
        beams: Beams | None = None,
        private: bool = False,
    ) -> None:
        """Caption an image with the pretrained and the fine-tuned model, side by side.

        Args:
            image: The image to caption: JPEG, PNG, WebP, GIF or BMP.
            max_words: Longest caption, in words (10-50; default 20).
            beams: Beam search width (1-5; default 3).
            private: Only you see the answer.
        """
        self.captioner.check(image)
        await think(interaction, private=private)
        options = make_options(max_words=max_words, beams=beams)
        captioned = await self.captioner.caption(
            image, interaction.user.id, ("pretrained", "finetuned"), Mode.single, options
        )
        await self._answer(interaction, [compare_embed(captioned.result, spoiler=captioned.spoiler)], [captioned])

    @expensive_command_cooldown
    async def caption_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Caption every image attached to a message (works without the message_content intent): the captions
        for the channel, the images that failed told to the user alone."""
        attachments = attachments_to_caption(message, images_only=True)
        if not attachments:
            raise ImageRejected(messages.DISCORD_NO_IMAGE_ON_MESSAGE)
        refusals = [self.captioner.refusal(a) for a in attachments]
        if all(refusals):  # known before any download: told privately, with no public "thinking…" first
            refused = outcome_embeds([(a.filename, r) for a, r in zip(attachments, refusals, strict=True)])
            await tell_privately(interaction, embeds=refused)
            return
        await think(interaction, private=False)
        outcomes = await self.captioner.caption_each(attachments, interaction.user.id)
        embeds = outcome_embeds([(a.filename, o) for a, o in zip(attachments, outcomes, strict=True)])
        captioned = [(e, o) for e, o in zip(embeds, outcomes, strict=True) if isinstance(o, Captioned)]
        failed = [e for e, o in zip(embeds, outcomes, strict=True) if not isinstance(o, Captioned)]
        if captioned:
            await self._answer(interaction, [e for e, _ in captioned], [o for _, o in captioned])
        if failed:
            await tell_privately(interaction, embeds=failed)

    async def _answer(
        self, interaction: discord.Interaction, embeds: list[discord.Embed], captioned: list[Captioned]
    ) -> None:
        """In place of "thinking…", with the feedback buttons where they are on; with DISCORD_ALT_TEXT on, each image
        comes back with its caption as alt text."""
        extras = await feedback_extras(self.bot, interaction.channel, interaction.guild_id, captioned, embeds)
        if not self.alt_text:
            await answer(interaction, embeds, **extras)
            return
        reposts = await described_files(captioned, interaction.filesize_limit, self.captioner.settings.max_image_pixels)
        note = messages.DISCORD_REPOSTS_LEFT_OUT.format(count=reposts.left_out) if reposts.left_out else None
        await answer(interaction, embeds, reposts, note, **extras)
