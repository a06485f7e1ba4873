"""The feedback buttons under a caption reply and the form for a better caption.

Each button is a `DynamicItem` whose custom_id carries what it means and the reply's token
(`cb:fb:vote:up:<token>`), so a click is understood by any bot process, after any restart: nothing about the
view is kept in memory. The form's submissions are answered the same way, by custom_id (`answer_form`).
Answers go to the clicker alone (ephemeral)."""

import re

import discord

from captionbot.bot import messages
from captionbot.bot.feedback_answers import suggestion_answer, vote_answer
from captionbot.feedback.schema import SUGGESTION_MAX
from captionbot.feedback.service import DOWN, UP, FeedbackService
from captionbot.feedback.text import SUGGESTION_MIN

TOKEN = r"(?P<token>[0-9a-f]{32})"
VOTE_ID = rf"cb:fb:vote:(?P<value>up|down|pretrained|finetuned):{TOKEN}"
FORM_ID = re.compile(rf"cb:fb:form:{TOKEN}")
VOTE_LOOK = {
    UP: {"emoji": messages.FEEDBACK_UP, "style": discord.ButtonStyle.secondary},
    DOWN: {"emoji": messages.FEEDBACK_DOWN, "style": discord.ButtonStyle.secondary},
}


def feedback_of(interaction: discord.Interaction) -> FeedbackService | None:
    cog = interaction.client.get_cog("Feedback")
    return getattr(cog, "feedback", None)


def _vote_button(value: str, token: str, row: int | None) -> discord.ui.Button:
    look = VOTE_LOOK.get(value) or {
        "label": messages.FEEDBACK_PREFER.format(model=messages.MODEL_TITLES[value]),
        "style": discord.ButtonStyle.primary,
    }
    return discord.ui.Button(custom_id=f"cb:fb:vote:{value}:{token}", row=row, **look)


class VoteButton(discord.ui.DynamicItem[discord.ui.Button], template=VOTE_ID):
    def __init__(self, value: str, token: str, row: int | None = None) -> None:
        super().__init__(_vote_button(value, token, row))
        self.value, self.token = value, token

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match
    ) -> "VoteButton":  # noqa: ANN001 (re.Match)
        return cls(match["value"], match["token"], item.row)

    async def callback(self, interaction: discord.Interaction) -> None:
        feedback = feedback_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        if feedback is None:
            await interaction.followup.send(messages.FEEDBACK_OFF, ephemeral=True)
            return
        answer = await vote_answer(feedback, self.token, "discord", str(interaction.user.id), self.value)
        await interaction.followup.send(answer, ephemeral=True)


class SuggestButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"cb:fb:suggest:{TOKEN}"):
    def __init__(self, token: str, label: str = messages.FEEDBACK_SUGGEST, row: int | None = None) -> None:
        button = discord.ui.Button(custom_id=f"cb:fb:suggest:{token}", label=label, row=row, emoji="✏️")
        super().__init__(button)
        self.token = token

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match
    ) -> "SuggestButton":  # noqa: ANN001 (re.Match)
        return cls(match["token"], item.label or messages.FEEDBACK_SUGGEST, item.row)

    async def callback(self, interaction: discord.Interaction) -> None:
        """A modal must be the first answer to the click: no defer before it. It is dropped from discord.py's
        store at once: its submission is answered by `answer_form`, which any bot process runs, so a form opened
        before a restart is still stored after it."""
        form = SuggestForm(self.token)
        await interaction.response.send_modal(form)
        form.stop()


class SuggestForm(discord.ui.Modal, title=messages.FEEDBACK_FORM_TITLE):
    caption = discord.ui.TextInput(
        label=messages.FEEDBACK_FORM_LABEL,
        placeholder=messages.FEEDBACK_FORM_PLACEHOLDER,
        style=discord.TextStyle.short,
        min_length=SUGGESTION_MIN,
        max_length=SUGGESTION_MAX,
    )

    def __init__(self, token: str) -> None:
        super().__init__(custom_id=f"cb:fb:form:{token}", timeout=None)


def _typed_text(components: list[dict]) -> str:
    """The value of the form's one text input, wherever its rows or labels nest it."""
    for component in components:
        if component.get("type") == discord.ComponentType.text_input.value:
            return component.get("value") or ""
        nested = component.get("components") or ([component["component"]] if "component" in component else [])
        if nested:
            return _typed_text(nested)
    return ""


async def answer_form(interaction: discord.Interaction) -> None:
    """A submitted better-caption form (any modal submit whose custom_id is `cb:fb:form:<token>`)."""
    match = FORM_ID.fullmatch((interaction.data or {}).get("custom_id", ""))
    if interaction.type is not discord.InteractionType.modal_submit or match is None:
        return
    feedback = feedback_of(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    if feedback is None:
        await interaction.followup.send(messages.FEEDBACK_OFF, ephemeral=True)
        return
    text = _typed_text(interaction.data.get("components", []))
    answer = await suggestion_answer(feedback, match["token"], "discord", str(interaction.user.id), text)
    await interaction.followup.send(answer, ephemeral=True)


def add_vote_row(view: discord.ui.View, token: str, compare: bool, row: int, image_index: int | None) -> None:
    """One row of buttons for one caption: 👍 👎 (or which model is better, on /compare) and the form."""
    for value in ("pretrained", "finetuned") if compare else (UP, DOWN):
        view.add_item(VoteButton(value, token, row))
    label = messages.FEEDBACK_SUGGEST_FOR.format(index=image_index) if image_index else messages.FEEDBACK_SUGGEST
    view.add_item(SuggestButton(token, label, row))
