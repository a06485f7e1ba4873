"""Approve / reject buttons under `/feedback`, for the captioner's admins: like the vote buttons, each carries
its meaning in its custom_id (`cb:fb:review:approve:12`), so it works after a restart."""

import discord

from captionbot.bot import messages
from captionbot.bot.discord.checks import is_admin
from captionbot.bot.feedback_answers import UNREACHABLE
from captionbot.feedback.store import APPROVED, REJECTED, ServerScope

ACTIONS = {"approve": APPROVED, "reject": REJECTED}


def guild_scope(interaction: discord.Interaction) -> ServerScope:
    return ServerScope("discord", str(interaction.guild_id) if interaction.guild_id else None)


REVIEW_ID = r"cb:fb:review:(?P<action>approve|reject):(?P<id>[0-9]{1,18})"


class ReviewButton(discord.ui.DynamicItem[discord.ui.Button], template=REVIEW_ID):
    def __init__(self, action: str, suggestion_id: int, row: int | None = None) -> None:
        approve = action == "approve"
        label = (messages.FEEDBACK_APPROVE if approve else messages.FEEDBACK_REJECT).format(id=suggestion_id)
        style = discord.ButtonStyle.success if approve else discord.ButtonStyle.danger
        custom_id = f"cb:fb:review:{action}:{suggestion_id}"
        button = discord.ui.Button(custom_id=custom_id, label=label, style=style, row=row)
        super().__init__(button)
        self.action, self.suggestion_id = action, suggestion_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match
    ) -> "ReviewButton":  # noqa: ANN001 (re.Match)
        return cls(match["action"], int(match["id"]), item.row)

    async def callback(self, interaction: discord.Interaction) -> None:
        if not is_admin(interaction.user, interaction.client.ids):
            await interaction.response.send_message(messages.ADMIN_ONLY, ephemeral=True)
            return
        # A /feedback list outlives the setting that made it: after feedback was turned off its buttons still
        # arrive, and are answered at once (before any defer, so no "thinking…" is left behind).
        feedback = getattr(interaction.client.get_cog("Feedback"), "feedback", None)
        if feedback is None:
            await interaction.response.send_message(messages.FEEDBACK_OFF, ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        status = ACTIONS[self.action]
        try:
            changed = await feedback.store.review([self.suggestion_id], status, guild_scope(interaction))
        except UNREACHABLE:
            await interaction.followup.send(messages.FEEDBACK_UNAVAILABLE, ephemeral=True)
            return
        template = messages.FEEDBACK_REVIEWED if changed else messages.FEEDBACK_NOT_FOUND
        await interaction.followup.send(template.format(id=self.suggestion_id, status=status), ephemeral=True)
