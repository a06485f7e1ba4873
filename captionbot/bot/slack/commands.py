"""`/caption [link] [options]` and `/compare [link] [options]`.

Acknowledged at once with a "Captioning…" note only the user sees (Slack wants an answer within 3 s; a job
takes longer); the note is then replaced by the caption, for the channel, or for the user alone with `private`.
Failures reach the global error handler (error_handler.py), which answers in place of the note."""

from collections.abc import Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from captionbot.bot import messages
from captionbot.bot.slack.args import CaptionArgs, parse_caption, parse_compare, wants_help
from captionbot.bot.slack.blocks import caption_blocks, caption_text, compare_blocks
from captionbot.bot.slack.captioner import SlackCaptioner
from captionbot.bot.slack.cooldown import Cooldown
from captionbot.bot.slack.files import SlackFile
from captionbot.bot.slack.inflight import InFlight
from captionbot.bot.slack.lookup import command_image
from captionbot.bot.slack.votes import SlackFeedback

Parse = Callable[[str], CaptionArgs]


def register(
    app: AsyncApp, captioner: SlackCaptioner, cooldown: Cooldown, inflight: InFlight, feedback: SlackFeedback
) -> None:
    async def image_for(
        ack: AsyncAck, command: dict, context: AsyncBoltContext, parse: Parse, usage: str
    ) -> tuple[CaptionArgs, SlackFile] | None:
        """Ack, read the options, find the image; None when the answer was the usage (`/caption help`)."""
        text = command.get("text", "")
        if wants_help(text):
            await ack(text=usage)
            return None
        await ack(text=messages.WORKING)
        args = parse(text)
        await cooldown.check(command["user_id"])
        # File permalinks live on the workspace's own host, which auth.test told Bolt.
        workspace_url = getattr(context.authorize_result, "url", None)
        return args, await command_image(captioner.files, args.link, command["channel_id"], workspace_url)

    @app.command("/caption")
    @inflight.track
    async def caption_command(ack: AsyncAck, command: dict, respond: AsyncRespond, context: AsyncBoltContext) -> None:
        found = await image_for(ack, command, context, parse_caption, messages.SLACK_CAPTION_USAGE)
        if found is None:
            return
        args, file = found
        result = await captioner.caption(file, command["user_id"], args.models, args.mode, args.options)
        blocks = caption_blocks(result, args.mode, file)
        blocks += await feedback.blocks(command["channel_id"], [(result, args.mode, args.options)])
        await answer(respond, blocks, caption_text(result), private=args.private)

    @app.command("/compare")
    @inflight.track
    async def compare_command(ack: AsyncAck, command: dict, respond: AsyncRespond, context: AsyncBoltContext) -> None:
        found = await image_for(ack, command, context, parse_compare, messages.SLACK_COMPARE_USAGE)
        if found is None:
            return
        args, file = found
        result = await captioner.caption(file, command["user_id"], args.models, args.mode, args.options)
        blocks = compare_blocks(result, file)
        blocks += await feedback.blocks(command["channel_id"], [(result, args.mode, args.options)])
        await answer(respond, blocks, caption_text(result), private=args.private)


async def answer(respond: AsyncRespond, blocks: list[dict], text: str, *, private: bool) -> None:
    """Replace the "Captioning…" note. An ephemeral message cannot become a channel message: for the channel,
    the note is deleted and the answer posted anew."""
    if private:
        await respond(blocks=blocks, text=text, response_type="ephemeral", replace_original=True)
        return
    await respond(delete_original=True)
    await respond(blocks=blocks, text=text, response_type="in_channel")
