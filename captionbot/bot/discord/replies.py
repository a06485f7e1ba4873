"""Answering an interaction with the visibility meant.

Discord's rule (developers/interactions/receiving-and-responding, "Create Followup Message"): the first followup
after a "thinking" defer edits the deferred message and keeps the defer's visibility; its own ephemeral flag is
ignored. So an answer edits the original response (`answer`), and a failure after a public defer deletes the
public "thinking…" and goes out as an ephemeral followup, which then is a new message of its own (`tell_privately`).
"""

import discord

from captionbot.bot.discord.alt_text import Reposts

THINKING = "captionbot.thinking"  # in `interaction.extras`: deferred, and the deferred message not yet edited
PRIVATE = "captionbot.private"  # in `interaction.extras`: the defer was ephemeral


async def think(interaction: discord.Interaction, *, private: bool) -> None:
    """"captionbot is thinking…", to the channel or, with `private`, to the user alone."""
    await interaction.response.defer(thinking=True, ephemeral=private)
    interaction.extras.update({THINKING: True, PRIVATE: private})


async def answer(
    interaction: discord.Interaction,
    embeds: list[discord.Embed],
    reposts: Reposts | None = None,
    note: str | None = None,
    view: discord.ui.View | None = None,
) -> None:
    """Replace "thinking…" with the answer (and its buttons), seen by whoever the defer was for."""
    await interaction.edit_original_response(
        content=note,
        embeds=embeds,
        attachments=reposts.files if reposts else discord.utils.MISSING,
        view=view or discord.utils.MISSING,
    )
    interaction.extras[THINKING] = False


async def tell_privately(interaction: discord.Interaction, **answer: object) -> None:
    """A message only the user sees, whatever was sent before: the immediate response when nothing was; in place
    of a private "thinking…"; else an ephemeral followup, after deleting a public "thinking…"."""
    if not interaction.response.is_done():
        await interaction.response.send_message(**answer, ephemeral=True)
        return
    if interaction.extras.get(THINKING):
        interaction.extras[THINKING] = False
        if interaction.extras.get(PRIVATE):
            await interaction.edit_original_response(**answer)
            return
        await interaction.delete_original_response()
    await interaction.followup.send(**answer, ephemeral=True)
