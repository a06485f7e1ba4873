"""`/caption` and `/compare`: acknowledged at once, answered through the response_url once the worker has
captioned the image; links other than Slack's own are refused without a fetch."""

import asyncio

from captionbot.bot import messages
from tests.bot.slack.harness import CHANNEL, MEMBER, harness, image


def run(coro):
    return asyncio.run(coro)


def test_caption_is_acknowledged_before_the_job_runs_then_posted_for_the_channel(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            listed = h.slack.add_file(image(), "sunset.png", channels=(CHANNEL,))
            h.slack.post_message(CHANNEL, MEMBER, [listed])
            h.slack.downloads_open.clear()  # the job cannot start until the download is let through

            ack = await h.dispatch(h.command("/caption"))

            assert ack.status == 200 and ack.body == messages.WORKING  # plain text: shown to the user alone
            await h.slack.wait_for(lambda: h.slack.file_hits)
            assert h.slack.responses == []
            h.slack.downloads_open.set()
            await h.settle()
            return h.slack.responses, listed

    (deleted, posted), listed = run(scenario())
    assert deleted["delete_original"] is True
    assert posted["response_type"] == "in_channel"
    title, meta = posted["blocks"]
    caption = title["text"]["text"].removeprefix(f"*{messages.CAPTION_TITLE}*\n")
    assert caption and posted["text"] == caption
    notes = [element["text"] for element in meta["elements"]]
    assert notes[0] == messages.model_label("finetuned", "v1")
    assert notes[-1] == messages.SLACK_IMAGE_LINK.format(permalink=listed["permalink"], name="sunset.png")


def test_caption_of_a_file_link_asks_files_info_and_answers_privately_with_variations(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            listed = h.slack.add_file(image("JPEG"), "cat.jpg", "image/jpeg", channels=(CHANNEL,))
            text = f"<{listed['permalink']}|cat.jpg> variations max-words=12 private"
            await h.dispatch(h.command("/caption", text))
            await h.settle()
            return h.slack, listed

    slack, listed = run(scenario())
    assert slack.called("files.info") == [{"file": listed["id"]}]
    assert slack.called("conversations.history") == []
    (answer,) = slack.responses
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is True
    body = answer["blocks"][0]["text"]["text"]
    assert body.startswith(f"*{messages.VARIATIONS_TITLE}*\n1. ")
    assert all(len(line.split()) <= 13 for line in body.splitlines()[1:])  # "1." and at most 12 words
    assert len(body.splitlines()) == 4


def test_compare_puts_both_models_side_by_side_in_section_fields(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            h.slack.post_message(CHANNEL, MEMBER, [h.slack.add_file(image(color=(20, 200, 60)))])
            await h.dispatch(h.command("/compare", "beams=2"))
            await h.settle()
            return h.slack.responses

    _, posted = run(scenario())
    header, side_by_side, _image = posted["blocks"]
    assert header["text"]["text"] == f"*{messages.COMPARE_TITLE}*"
    left, right = side_by_side["fields"]
    assert left["text"].startswith(f"*{messages.model_label('pretrained', 'tiny-pretrained0')}*\n")
    assert right["text"].startswith(f"*{messages.model_label('finetuned', 'v1')}*\n")
    assert all(field["type"] == "mrkdwn" and len(field["text"].splitlines()) == 3 for field in (left, right))


def test_links_outside_slack_are_refused_and_nothing_is_fetched(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            await h.dispatch(h.command("/caption", "https://example.com/files/U1/F0123ABCDE/cat.png"))
            await h.dispatch(h.command("/caption", "<http://169.254.169.254/latest/meta-data|metadata>"))
            await h.settle()
            return h.slack

    slack = run(scenario())
    assert [r["text"] for r in slack.responses] == [messages.SLACK_LINK_REFUSED] * 2
    assert all(r["response_type"] == "ephemeral" and r["replace_original"] for r in slack.responses)
    assert slack.called("files.info") == [] and slack.file_hits == []


def test_a_file_link_from_another_channel_or_gone_is_refused(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            elsewhere = h.slack.add_file(image(), channels=("C0PRIVATE",))
            await h.dispatch(h.command("/caption", elsewhere["url_private"]))
            await h.settle()
            await h.dispatch(h.command("/caption", f"{h.slack.workspace_url}files/U1/F0NOSUCHFILE/x.png"))
            await h.settle()
            return h.slack

    slack = run(scenario())
    assert [r["text"] for r in slack.responses] == [messages.SLACK_FILE_NOT_SHARED_HERE, messages.SLACK_FILE_NOT_FOUND]
    assert slack.file_hits == []


def test_options_out_of_range_and_help_are_answered_without_a_job(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            helped = await h.dispatch(h.command("/caption", "help"))
            acks = [
                await h.dispatch(h.command("/caption", "beams=9")),
                await h.dispatch(h.command("/compare", "variations")),
            ]
            await h.settle()
            return helped, acks, h.slack

    helped, acks, slack = run(scenario())
    assert helped.body == messages.SLACK_CAPTION_USAGE
    # Failing right after the ack must not lose it (Bolt resets an ack its listener failed after).
    assert [(ack.status, ack.body) for ack in acks] == [(200, messages.WORKING)] * 2
    beams, variations = (r["text"] for r in slack.responses)
    assert beams == "beams must be between 1 and 5."
    assert variations == messages.SLACK_UNKNOWN_WORD.format(word="variations", usage=messages.SLACK_COMPARE_USAGE)
    assert slack.called("conversations.history") == []


def test_no_image_in_the_channel_and_a_channel_the_bot_cannot_read(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            h.slack.post_message(CHANNEL, MEMBER, text="no pictures here")
            await h.dispatch(h.command("/caption"))
            await h.settle()
            h.slack.errors["conversations.history"] = "not_in_channel"
            await h.dispatch(h.command("/caption"))
            await h.settle()
            return h.slack.responses

    assert [r["text"] for r in run(scenario())] == [messages.NO_IMAGE_FOUND, messages.SLACK_NOT_IN_CHANNEL]


def test_a_second_command_within_the_cooldown_is_told_to_wait(idle_settings):
    user = f"U0FAST{id(idle_settings) % 10**6}"

    async def scenario():
        async with harness(idle_settings, command_cooldown_s=60.0) as h:
            for _ in range(2):
                await h.dispatch(h.command("/caption", user=user))
                await h.settle()
            return h.slack.responses

    first, second = run(scenario())
    assert first["text"] == messages.NO_IMAGE_FOUND
    assert second["text"] == messages.COOLDOWN.format(seconds=60)
