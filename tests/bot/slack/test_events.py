"""Images shared in channels: answered in the image's thread, with a reaction while the job runs; retries and
duplicate deliveries answered once, also by a bot that restarted in between."""

import asyncio

from slack_bolt.request.async_request import AsyncBoltRequest

from captionbot.bot import messages
from captionbot.bot.slack.app import open_app
from captionbot.bot.slack.feedback import WORKING_REACTION
from tests.bot.slack import signed
from tests.bot.slack.harness import AUTO_CHANNEL, CHANNEL, MEMBER, SIGNING_SECRET, harness, image
from tests.bot.slack.mock_slack import BOT_USER_ID

MENTION = f"<@{BOT_USER_ID}>"


def run(coro):
    return asyncio.run(coro)


def test_an_image_shared_in_an_auto_caption_channel_is_captioned_in_its_thread(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            request = h.shared([h.slack.add_file(image())])
            ack = await h.dispatch(request)
            await h.slack.wait_for(lambda: h.slack.called("chat.postMessage"))
            await h.settle()
            return ack, h.slack, h.slack.history[AUTO_CHANNEL][0]

    ack, slack, posted = run(scenario())
    assert ack.status == 200
    (reply,) = slack.called("chat.postMessage")
    assert reply["channel"] == AUTO_CHANNEL and reply["thread_ts"] == posted["ts"]
    caption, meta = reply["blocks"]
    assert caption["text"]["text"] == f"*{messages.CAPTION_TITLE}*\n{reply['text']}"
    assert meta["elements"][0]["text"] == messages.model_label("finetuned", "v1")
    reactions = [(c.method, c.args) for c in slack.calls if c.method.startswith("reactions.")]
    working = {"channel": AUTO_CHANNEL, "timestamp": posted["ts"], "name": WORKING_REACTION}
    assert reactions == [("reactions.add", working), ("reactions.remove", working)]
    order = [c.method for c in slack.calls]
    assert order.index("reactions.add") < order.index("chat.postMessage") < order.index("reactions.remove")


def test_elsewhere_only_a_mention_or_a_direct_message_asks_for_a_caption(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            await h.dispatch(h.shared([h.slack.add_file(image())], channel=CHANNEL))
            await h.settle()
            unasked = list(h.slack.calls), list(h.slack.file_hits)
            await h.dispatch(h.shared([h.slack.add_file(image())], channel=CHANNEL, text=f"{MENTION} what is this?"))
            await h.dispatch(h.shared([h.slack.add_file(image())], channel="D0DIRECT", channel_type="im"))
            await h.settle()
            return unasked, h.slack.called("chat.postMessage")

    (calls, hits), replies = run(scenario())
    assert [c.method for c in calls] == ["auth.test"] and hits == []
    assert sorted(r["channel"] for r in replies) == [CHANNEL, "D0DIRECT"]


def test_a_retried_event_is_answered_once(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            request = h.shared([h.slack.add_file(image())])
            acks = [await h.dispatch(request)]
            acks += [await h.dispatch(request, retry_num=n) for n in (1, 2, 3)]
            await h.slack.wait_for(lambda: h.slack.called("chat.postMessage"))
            await h.settle()
            return acks, h.slack

    acks, slack = run(scenario())
    assert [a.status for a in acks] == [200] * 4
    assert len(slack.called("chat.postMessage")) == 1 and len(slack.file_hits) == 1


def test_one_upload_delivered_as_a_message_and_a_mention_is_answered_once(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            message = h.slack.post_message(CHANNEL, MEMBER, [h.slack.add_file(image())], f"{MENTION} caption please")
            await asyncio.gather(
                h.dispatch(signed.event(signed.file_share(message, CHANNEL))),
                h.dispatch(signed.event(signed.app_mention(message, CHANNEL))),
            )
            await h.slack.wait_for(lambda: h.slack.called("chat.postMessage"))
            await h.settle()
            return h.slack

    slack = run(scenario())
    assert len(slack.called("chat.postMessage")) == 1 and len(slack.file_hits) == 1


def test_a_retry_reaching_a_restarted_bot_is_not_answered_again(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            request = h.shared([h.slack.add_file(image())])
            await h.dispatch(request)
            await h.slack.wait_for(lambda: h.slack.called("chat.postMessage"))
            await h.settle()
            async with open_app(h.settings, verify_requests=True) as restarted:
                retry = AsyncBoltRequest(body=request.body, headers=request.headers(SIGNING_SECRET, retry_num=1))
                ack = await restarted.app.async_dispatch(retry)
                await asyncio.sleep(0)
                assert await restarted.inflight.wait_idle(30)
            return ack, h.slack

    ack, slack = run(scenario())
    assert ack.status == 200
    assert len(slack.called("chat.postMessage")) == 1 and len(slack.file_hits) == 1


def test_several_images_in_one_post_get_one_reply_naming_each(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            files = [h.slack.add_file(image(color=(i * 80, 90, 200)), f"shot-{i}.png") for i in range(3)]
            await h.dispatch(h.shared(files))
            await h.slack.wait_for(lambda: h.slack.called("chat.postMessage"))
            await h.settle()
            return h.slack

    (reply,) = run(scenario()).called("chat.postMessage")
    contexts = [block for block in reply["blocks"] if block["type"] == "context"]
    assert [c["elements"][-1]["text"].split("|")[-1] for c in contexts] == ["shot-0.png>", "shot-1.png>", "shot-2.png>"]


def test_a_slack_connect_file_is_looked_up_with_files_info_before_its_download(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            listed = h.slack.add_file(image(), slack_connect=True)
            await h.dispatch(h.shared([listed]))
            await h.slack.wait_for(lambda: h.slack.called("chat.postMessage"))
            await h.settle()
            return h.slack, listed

    slack, listed = run(scenario())
    methods = [c.method for c in slack.calls]
    assert slack.called("files.info") == [{"file": listed["id"]}]
    assert methods.index("files.info") < methods.index("chat.postMessage") and len(slack.file_hits) == 1


def test_a_mention_in_an_images_thread_captions_that_image(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            parent = h.slack.post_message(CHANNEL, "U0SHARER", [h.slack.add_file(image())])
            mention = h.slack.post_message(CHANNEL, MEMBER, text=f"{MENTION} and this one?", thread_ts=parent["ts"])
            await h.dispatch(signed.event(signed.app_mention(mention, CHANNEL)))
            await h.slack.wait_for(lambda: h.slack.called("chat.postMessage"))
            await h.settle()
            return h.slack, parent

    slack, parent = run(scenario())
    (reply,) = slack.called("chat.postMessage")
    assert reply["thread_ts"] == parent["ts"]
    assert slack.called("conversations.replies")[0]["ts"] == parent["ts"]


def test_files_that_are_not_images_are_skipped_unless_the_bot_was_asked(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            await h.dispatch(h.shared([h.slack.add_file(b"%PDF-1.7", "report.pdf", "application/pdf")]))
            await h.settle()
            skipped = list(h.slack.calls)
            pdf = h.slack.add_file(b"%PDF-1.7", "report.pdf", "application/pdf")
            await h.dispatch(h.shared([pdf], text=f"{MENTION} caption this"))
            await h.settle()
            return skipped, h.slack

    skipped, slack = run(scenario())
    assert [c.method for c in skipped] == ["auth.test"]
    (told,) = slack.called("chat.postEphemeral")
    assert told["user"] == MEMBER and "thread_ts" not in told  # no thread yet: shown in the channel, to the user alone
    assert messages.NOT_AN_IMAGE_ATTACHMENT in told["blocks"][0]["text"]["text"]
    assert slack.called("chat.postMessage") == [] and slack.file_hits == []


def test_a_mention_with_no_image_anywhere_says_how_to_ask(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            mention = h.slack.post_message(CHANNEL, MEMBER, text=f"{MENTION} hello")
            await h.dispatch(signed.event(signed.app_mention(mention, CHANNEL)))
            await h.settle()
            return h.slack

    (told,) = run(scenario()).called("chat.postEphemeral")
    assert told["text"] == messages.SLACK_MENTION_HOW and told["user"] == MEMBER


def test_the_bots_own_posts_are_ignored(idle_settings):
    async def scenario():
        async with harness(idle_settings) as h:
            message = h.slack.post_message(AUTO_CHANNEL, BOT_USER_ID, [h.slack.add_file(image())])
            await h.dispatch(signed.event(signed.file_share({**message, "bot_id": "B0CAPBOT"}, AUTO_CHANNEL)))
            await h.settle()
            return h.slack

    slack = run(scenario())
    assert [c.method for c in slack.calls] == ["auth.test"] and slack.file_hits == []
