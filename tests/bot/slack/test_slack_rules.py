"""What Slack's documentation asks of a message, kept: top-level `text` escaped like blocks and never blank,
Block Kit within its limits, and the documented errors for files and channels the bot may not use answered with
a sentence (files.info) or a private answer (chat.postMessage) instead of a crash."""

import asyncio
import json

import pytest

from captionbot.bot import messages
from captionbot.bot.slack.blocks import caption_blocks, caption_text, compare_blocks, models_blocks, reload_blocks
from captionbot.core.control import WorkerReply
from captionbot.core.jobs import JobResult, ModelResult
from tests.bot.slack.harness import ADMIN, AUTO_CHANNEL, CHANNEL, MEMBER, harness, image
from tests.bot.slack.mock_slack import block_problem

HOSTILE = "<!channel> look & <https://evil.test|click here>"
ESCAPED = "&lt;!channel&gt; look &amp; &lt;https://evil.test|click here&gt;"


def run(coro):
    return asyncio.run(coro)


def result(**captions: list[str]) -> JobResult:
    return JobResult(
        job_id="j",
        results={name: ModelResult(version="v1", captions=c, ms=5.0, queue_ms=1.0) for name, c in captions.items()},
    )


def test_the_notification_text_is_escaped_as_the_blocks_are():
    assert caption_text(result(finetuned=[HOSTILE])) == ESCAPED
    (body, _) = caption_blocks(result(finetuned=[HOSTILE]))
    assert body["text"]["text"].endswith(ESCAPED)


def test_an_empty_caption_says_no_caption_came_in_the_text_and_the_blocks():
    assert caption_text(result(finetuned=[""])) == messages.NO_CAPTION
    (body, _) = caption_blocks(result(finetuned=["  "]))
    assert body["text"]["text"].endswith(messages.NO_CAPTION)
    _, fields = compare_blocks(result(finetuned=[""], pretrained=["a cat"]))
    assert messages.NO_CAPTION in fields["fields"][1]["text"]


def test_words_someone_typed_come_back_escaped(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            await h.dispatch(h.command("/caption", "pretty<!here>"))
            await h.settle()
            ack = await h.dispatch(h.command("/reload-model", "<!channel>", user=ADMIN))
            await h.settle()
            return h.slack, ack.body  # an ack with text alone is that text

    slack, reload_ack = run(scenario())
    unknown = slack.responses[0]["text"]
    assert "pretty&lt;!here&gt;" in unknown and "<!here>" not in unknown
    assert "&lt;!channel&gt;" in reload_ack and "<!channel>" not in reload_ack


@pytest.mark.parametrize("error", ["access_denied", "not_visible"])
def test_a_file_slack_will_not_show_the_app_gets_the_not_found_sentence(idle_settings, error):
    async def scenario():
        async with harness(idle_settings) as h:
            listed = h.slack.add_file(image(), channels=(CHANNEL,))
            h.slack.file_errors[listed["id"]] = error
            await h.dispatch(h.command("/caption", listed["permalink"]))
            await h.settle()
            return h.slack

    slack = run(scenario())
    (answer,) = slack.responses
    assert answer["text"] == messages.SLACK_FILE_NOT_FOUND and slack.file_hits == []


@pytest.mark.parametrize(
    "error",
    ["restricted_action_read_only_channel", "restricted_action_thread_locked", "restricted_action"],
)
def test_where_the_bot_may_not_post_the_caption_goes_to_the_poster_alone(worker, error):
    async def scenario():
        async with harness(worker.settings) as h:
            h.slack.post_errors[AUTO_CHANNEL] = error
            await h.dispatch(h.shared([h.slack.add_file(image())]))
            await h.settle()
            return h.slack

    slack = run(scenario())
    (told,) = slack.called("chat.postEphemeral")
    blocks = json.loads(told["blocks"]) if isinstance(told["blocks"], str) else told["blocks"]
    assert told["user"] == MEMBER and told["channel"] == AUTO_CHANNEL and told["text"].strip()
    assert blocks[-1]["elements"][0]["text"] == messages.SLACK_CANNOT_POST_HERE
    assert slack.warnings == []


def test_admin_reports_for_hundreds_of_workers_and_versions_stay_valid_block_kit():
    replies = [
        WorkerReply(
            worker=f"gpu{i}@host-{i:04d}.cluster.example",
            status="ok",
            version="v3",
            load_s=1.0,
            available=[f"experiment-{i}-{j}" for j in range(10)],
        )
        for i in range(400)
    ]
    for blocks in (reload_blocks("v3", replies), models_blocks(replies)):
        assert block_problem(blocks) is None
        assert blocks[0]["text"]["text"].endswith(" more")
