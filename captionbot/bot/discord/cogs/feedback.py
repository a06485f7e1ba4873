"""Feedback on captions (FEEDBACK_* settings): the service while the bot runs, the vote, form and review
buttons (registered as dynamic items, so they answer after a restart), `/feedback` for admins, and
`feedback_extras`, the hook that puts the buttons under a caption reply."""

import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import escape_markdown, escape_mentions

from captionbot.bot import messages
from captionbot.bot.discord.captioner import Captioned
from captionbot.bot.discord.checks import NotAdmin, is_admin
from captionbot.bot.discord.render import EMBEDS_TOTAL_LIMIT, FIELD_NAME_LIMIT, FIELD_VALUE_LIMIT, clip
from captionbot.bot.discord.replies import answer, tell_privately, think
from captionbot.bot.discord.review import ReviewButton, guild_scope
from captionbot.bot.discord.votes import SuggestButton, VoteButton, add_vote_row, answer_form
from captionbot.bot.feedback_answers import UNREACHABLE
from captionbot.bot.feedback_summary import approval_lines, counts_text
from captionbot.bot.recent_images import RecentImages
from captionbot.feedback.service import FeedbackService, open_feedback
from captionbot.feedback.shown import Place, ShownReply

log = logging.getLogger(__name__)

MAX_ROWS = 5  # Discord's limit of component rows on a message
LATEST = 5  # suggestions `/feedback` shows
APPROVAL_LIMIT = 2000  # beside /models' report (render.ADMIN_REPORT_LIMIT), inside the 6000 of one message


class Feedback(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.feedback: FeedbackService | None = None
        self._open = AsyncExitStack()

    async def cog_load(self) -> None:
        opening = open_feedback(self.bot.settings, self.bot.service.queue.check_user)
        self.feedback = await self._open.enter_async_context(opening)
        if self.feedback is not None:
            self.bot.service.job_images = RecentImages()
        self.bot.add_dynamic_items(VoteButton, SuggestButton, ReviewButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(VoteButton, SuggestButton, ReviewButton)
        await self._open.aclose()

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await answer_form(interaction)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not is_admin(interaction.user, self.bot.ids):
            raise NotAdmin()
        return True

    @app_commands.command(name="feedback")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def feedback_command(self, interaction: discord.Interaction) -> None:
        """Votes and suggested captions in this server, the latest with approve/reject (admins only)."""
        await think(interaction, private=True)
        if self.feedback is None:
            await tell_privately(interaction, content=messages.FEEDBACK_OFF)
            return
        scope = guild_scope(interaction)
        store = self.feedback.store
        try:
            counts, latest = await store.counts(scope), await store.suggestions(scope=scope, limit=LATEST)
        except UNREACHABLE:
            log.warning("/feedback in server %s: the feedback database did not answer", interaction.guild_id)
            await tell_privately(interaction, content=messages.FEEDBACK_DB_UNREACHABLE)
            return
        embed = discord.Embed(title=messages.FEEDBACK_TITLE, description=counts_text(counts))
        # Five suggestions of 200 characters on replies of long captions filled 6,405 characters: past the 6,000
        # Discord takes in one message, so each field's value gets its share of what is left.
        room = (EMBEDS_TOTAL_LIMIT - len(embed.title) - len(embed.description)) // max(1, len(latest))
        value_limit = min(FIELD_VALUE_LIMIT, room - FIELD_NAME_LIMIT)
        view = discord.ui.View(timeout=None)
        for row, suggestion in enumerate(latest):
            shown = "\n".join(messages.FEEDBACK_SHOWN.format(caption=plain(c)) for c in suggestion.shown.values())
            name = messages.FEEDBACK_SUGGESTION.format(id=suggestion.id, text=plain(suggestion.text))
            embed.add_field(name=clip(name, FIELD_NAME_LIMIT), value=clip(shown, value_limit) or "-", inline=False)
            view.add_item(ReviewButton("approve", suggestion.id, row))
            view.add_item(ReviewButton("reject", suggestion.id, row))
        if not latest:
            embed.add_field(name=messages.FEEDBACK_NONE_WAITING, value="-", inline=False)
        await answer(interaction, [embed], view=view if latest else None)


def plain(text: str) -> str:
    """User or model text shown as it is: no markdown, no mention."""
    return escape_mentions(escape_markdown(text))


async def feedback_extras(
    bot: commands.Bot, channel: discord.abc.Messageable, guild_id: int | None, captioned: Sequence[Captioned],
    embeds: list[discord.Embed],
) -> dict:
    """The `view=` for a caption reply where feedback is on here (and the footer that says so on its last embed);
    `{}` where it is off, or when Redis cannot keep the reply: the caption goes out either way."""
    cog = bot.get_cog("Feedback")
    feedback = getattr(cog, "feedback", None)
    place = Place("discord", str(guild_id) if guild_id else None, str(getattr(channel, "id", "")))
    parent = getattr(channel, "parent_id", None)
    if feedback is None or not captioned or not feedback.enabled(place, str(parent) if parent else None):
        return {}
    view = discord.ui.View(timeout=None)
    several = len(captioned) > 1
    try:
        for row, item in enumerate(captioned[:MAX_ROWS]):
            image = bot.service.job_images.take(item.result.job_id)
            if image is None:
                continue
            token = await feedback.offer(ShownReply.from_result(place, item.result, image, item.mode, item.options))
            add_vote_row(view, token, len(item.result.results) > 1, row, row + 1 if several else None)
    except UNREACHABLE:
        log.warning("feedback buttons left off a reply in channel %s: Redis cannot keep it", place.channel_id)
        return {}
    if not view.children:
        return {}
    embeds[-1].set_footer(text=messages.FEEDBACK_FOOTER)
    return {"view": view}


async def approval_embed(bot: commands.Bot) -> list[discord.Embed]:
    """For `/models`: the approval rate per model version, where feedback is on."""
    feedback = getattr(bot.get_cog("Feedback"), "feedback", None)
    if feedback is None:
        return []
    try:
        lines = await approval_lines(feedback.store)
    except UNREACHABLE:
        lines = [messages.FEEDBACK_UNAVAILABLE]
    return [discord.Embed(title=messages.APPROVAL_TITLE, description=messages.join_capped(lines, APPROVAL_LIMIT))]
