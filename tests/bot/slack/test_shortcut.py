"""The "Caption this image" message shortcut: acknowledged at once, answered in the message's thread, or to
the user alone where the bot cannot post."""

import asyncio

from captionbot.bot import messages
from captionbot.bot.slack.shortcuts import CALLBACK_ID
from tests.bot.slack import signed
from tests.bot.slack.harness import CHANNEL, MEMBER, harness, image
from tests.bot.slack.mock_slack import MockSlack


def run(coro):
    return asyncio.run(coro)


def shortcut_on(slack: MockSlack, message: dict, user: str = MEMBER) -> signed.SlackRequest:
    return signed.message_shortcut(CALLBACK_ID, message, CHANNEL, user, slack.response_url())


def test_the_shortcut_captions_the_messages_image_in_its_thread(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            message = h.slack.post_message(CHANNEL, "U0SHARER", [h.slack.add_file(image())], "look at this")
            ack = await h.dispatch(shortcut_on(h.slack, message))
            await h.slack.wait_for(lambda: h.slack.called("chat.postMessage"))
            await h.settle()
            return ack, h.slack, message

    ack, slack, message = run(scenario())
    assert (ack.status, ack.body) == (200, "")
    (reply,) = slack.called("chat.postMessage")
    assert reply["thread_ts"] == message["ts"] and reply["blocks"][0]["text"]["text"].startswith(
        f"*{messages.CAPTION_TITLE}*"
    )
    assert [c.method for c in slack.calls if c.method.startswith("reactions.")] == ["reactions.add", "reactions.remove"]
    assert slack.responses == []


def test_where_the_bot_cannot_post_the_caption_goes_to_the_user_alone(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            h.slack.errors.update({"chat.postMessage": "not_in_channel", "reactions.add": "not_in_channel"})
            message = h.slack.post_message(CHANNEL, "U0SHARER", [h.slack.add_file(image())])
            await h.dispatch(shortcut_on(h.slack, message))
            await h.slack.wait_for(lambda: h.slack.responses)
            await h.settle()
            return h.slack

    slack = run(scenario())
    (answer,) = slack.responses
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"][-1]["elements"][0]["text"] == messages.SLACK_NOT_IN_CHANNEL_PRIVATE_ANSWER
    assert not slack.called("reactions.remove")  # none was added


def test_a_message_without_an_image_is_answered_to_the_user_alone(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            message = h.slack.post_message(CHANNEL, "U0SHARER", text="just words")
            await h.dispatch(shortcut_on(h.slack, message))
            await h.settle()
            return h.slack

    slack = run(scenario())
    (answer,) = slack.responses
    assert answer == {
        "url_id": answer["url_id"],
        "text": messages.SLACK_NO_IMAGE_ON_MESSAGE,
        "response_type": "ephemeral",
        "replace_original": False,
    }
    assert slack.file_hits == []
