"""Feedback under Slack caption replies, on SQLite and on PostgreSQL: the real Bolt app, the real worker, clicks
and form submissions as Slack sends them. Votes count privately and change; a click after a restart counts; the
form stores a better caption and refuses hostile ones in place; admins review with /feedback."""

import asyncio
import json

import pytest
from sqlalchemy import func, select

from captionbot.bot import messages
from captionbot.feedback.schema import Shown, Vote
from captionbot.feedback.store import APPROVED, FeedbackStore
from tests.bot.slack.harness import ADMIN, AUTO_CHANNEL, CHANNEL, MEMBER, Harness, harness, image
from tests.bot.slack.interactive import block_action, buttons, view_submission
from tests.bot.slack.mock_slack import TEAM_ID
from tests.bot.slack.test_commands import run
from tests.feedback.conftest import up_votes_on_many_versions


@pytest.fixture
def feedback_on(feedback_db: dict) -> dict:
    return {"feedback_slack_workspaces": [TEAM_ID], **feedback_db}


async def in_store(h: Harness, read):
    store = await FeedbackStore.open(h.settings)
    try:
        return await read(store)
    finally:
        await store.aclose()


async def vote_values(store: FeedbackStore) -> list[str]:
    async with store.sessions() as session:
        return list((await session.execute(select(Vote.value))).scalars())


async def shown_count(store: FeedbackStore) -> int:
    async with store.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Shown))


async def caption_reply(h: Harness, command: str = "/caption") -> list[dict]:
    listed = h.slack.add_file(image(), "sunset.png", channels=(CHANNEL,))
    h.slack.post_message(CHANNEL, MEMBER, [listed])
    await h.dispatch(h.command(command))
    await h.settle()
    return h.slack.responses[-1]["blocks"]


async def press(h: Harness, blocks: list[dict], action_id: str, user: str = MEMBER) -> dict:
    """Click the button `action_id`; returns what the bot answered through the click's response_url."""
    block, button = next((b, e) for b, e in buttons(blocks) if e["action_id"] == action_id)
    response_url = h.slack.response_url()
    ack = await h.dispatch(block_action(block, button, user, CHANNEL, response_url))
    assert ack.status == 200
    await h.settle()
    (answer,) = [r for r in h.slack.responses if r["url_id"] == response_url.rsplit("/", 1)[1]]
    return answer


async def open_form(h: Harness, blocks: list[dict]) -> dict:
    """Click "Suggest a better caption"; the form Slack was asked to open."""
    block, button = next((b, e) for b, e in buttons(blocks) if e["action_id"] == "feedback_suggest")
    await h.dispatch(block_action(block, button, MEMBER, CHANNEL, h.slack.response_url()))
    await h.settle()
    opened = h.slack.called("views.open")[-1]
    return opened["view"] if isinstance(opened["view"], dict) else json.loads(opened["view"])


def test_feedback_is_off_by_default(worker):
    async def scenario():
        async with harness(worker.settings) as h:
            return await caption_reply(h)

    assert buttons(run(scenario())) == []


def test_a_click_counts_a_vote_privately_and_a_second_click_changes_it(worker, feedback_on):
    async def scenario():
        async with harness(worker.settings, **feedback_on) as h:
            blocks = await caption_reply(h)
            before = await in_store(h, shown_count)
            first = await press(h, blocks, "feedback_vote_up")
            second = await press(h, blocks, "feedback_vote_down")
            return blocks, before, first, second, await in_store(h, vote_values)

    blocks, before, first, second, values = run(scenario())
    assert [e["action_id"] for _, e in buttons(blocks)] == ["feedback_vote_up", "feedback_vote_down", "feedback_suggest"]
    assert blocks[-1]["elements"][0]["text"] == messages.FEEDBACK_FOOTER
    assert before == 0
    assert (first["text"], first["response_type"], first["replace_original"]) == (
        messages.FEEDBACK_COUNTED, "ephemeral", False
    )
    assert second["text"] == messages.FEEDBACK_CHANGED
    assert values == ["down"]


def test_a_click_after_the_bot_restarted_still_counts(worker, feedback_on):
    async def scenario():
        async with harness(worker.settings, **feedback_on) as before:
            blocks = await caption_reply(before)
        async with harness(worker.settings, **feedback_on) as after:
            answer = await press(after, blocks, "feedback_vote_up")
            return answer, await in_store(after, vote_values)

    answer, values = run(scenario())
    assert answer["text"] == messages.FEEDBACK_COUNTED and values == ["up"]


def test_compare_asks_which_model_was_better(worker, feedback_on):
    async def scenario():
        async with harness(worker.settings, **feedback_on) as h:
            blocks = await caption_reply(h, "/compare")
            answer = await press(h, blocks, "feedback_vote_pretrained")
            return blocks, answer, await in_store(h, vote_values)

    blocks, answer, values = run(scenario())
    assert [e["action_id"] for _, e in buttons(blocks)][:2] == ["feedback_vote_pretrained", "feedback_vote_finetuned"]
    assert answer["text"] == messages.FEEDBACK_COUNTED and values == ["pretrained"]


def test_the_form_stores_a_better_caption_and_refuses_hostile_ones_in_place(worker, feedback_on):
    async def scenario():
        async with harness(worker.settings, **feedback_on) as h:
            blocks = await caption_reply(h)
            block, button = next((b, e) for b, e in buttons(blocks) if e["action_id"] == "feedback_suggest")
            response_url = h.slack.response_url()
            await h.dispatch(block_action(block, button, MEMBER, CHANNEL, response_url))
            await h.settle()
            (opened,) = h.slack.called("views.open")
            view = opened["view"] if isinstance(opened["view"], dict) else json.loads(opened["view"])
            refusals = []
            for text in ("<!channel> look here", "x" * 10_000, "tab\x07bell"):
                ack = await h.dispatch(view_submission(view, MEMBER, text))
                refusals.append(json.loads(ack.body))
            accepted = await h.dispatch(view_submission(view, MEMBER, "*a red* <square> & co"))
            await h.settle()
            answers = [r for r in h.slack.responses if r["url_id"] == response_url.rsplit("/", 1)[1]]
            return opened, refusals, accepted, answers, await in_store(h, lambda store: store.suggestions())

    opened, refusals, accepted, answers, stored = run(scenario())
    assert opened["trigger_id"]
    assert refusals == [
        {"response_action": "errors", "errors": {"caption": messages.FEEDBACK_REFUSED[reason]}}
        for reason in ("mention", "length", "control")
    ]
    assert accepted.status == 200 and not accepted.body
    (answer,) = answers
    assert answer["text"] == messages.FEEDBACK_SUGGESTED and answer["response_type"] == "ephemeral"
    (suggestion,) = stored
    assert suggestion.text == "*a red* <square> & co"


def test_an_image_shared_in_a_channel_gets_buttons_in_its_thread(worker, feedback_on):
    async def scenario():
        async with harness(worker.settings, **feedback_on) as h:
            listed = h.slack.add_file(image(), "cat.png", channels=(AUTO_CHANNEL,))
            await h.dispatch(h.shared([listed]))
            await h.settle()
            return h.slack.called("chat.postMessage")

    (posted,) = run(scenario())
    blocks = posted["blocks"] if isinstance(posted["blocks"], list) else json.loads(posted["blocks"])
    assert [e["action_id"] for _, e in buttons(blocks)] == ["feedback_vote_up", "feedback_vote_down", "feedback_suggest"]


def test_admins_review_suggestions_with_feedback(worker, feedback_on):
    async def scenario():
        async with harness(worker.settings, **feedback_on) as h:
            blocks = await caption_reply(h)
            view = await open_form(h, blocks)
            await h.dispatch(view_submission(view, MEMBER, "*bold* <@U0ADMIN> no"))  # refused: a mention
            await h.dispatch(view_submission(view, MEMBER, "*bold* red square"))
            await h.settle()
            refused = await h.dispatch(h.command("/feedback", user=MEMBER))
            await h.dispatch(h.command("/feedback", user=ADMIN))
            await h.settle()
            listing = h.slack.responses[-1]["blocks"]
            by_member = await press(h, listing, "feedback_review_approve", MEMBER)
            by_admin = await press(h, listing, "feedback_review_approve", ADMIN)
            return refused, listing, by_member, by_admin, await in_store(h, lambda store: store.suggestions(status=None))

    refused, listing, by_member, by_admin, stored = run(scenario())
    assert refused.body == messages.ADMIN_ONLY
    (suggestion,) = stored
    shown = listing[1]["text"]
    assert shown["type"] == "plain_text" and shown["text"].startswith(f"#{suggestion.id}: *bold* red square")
    assert by_member["text"] == messages.ADMIN_ONLY
    assert by_admin["text"] == messages.FEEDBACK_REVIEWED.format(id=suggestion.id, status=APPROVED)
    assert suggestion.status == APPROVED


def test_models_shows_the_approval_rate_to_admins(worker, feedback_on):
    async def scenario():
        async with harness(worker.settings, **feedback_on) as h:
            blocks = await caption_reply(h)
            await press(h, blocks, "feedback_vote_down")
            await h.dispatch(h.command("/models", user=ADMIN))
            await h.settle()
            return h.slack.responses[-1]["blocks"]

    approval = run(scenario())[-1]["text"]["text"]
    assert approval.startswith(f"*{messages.APPROVAL_TITLE}*\nFine-tuned · v1: 👍 0% of 1 vote (95% CI 0%–79%)")


def test_models_with_many_rated_versions_stays_valid_block_kit(worker, feedback_on):
    async def scenario():
        async with harness(worker.settings, **feedback_on) as h:
            await in_store(h, lambda store: up_votes_on_many_versions(store, 60))
            await h.dispatch(h.command("/models", user=ADMIN))
            await h.settle()
            return h.slack.responses[-1]["blocks"]

    approval = run(scenario())[-1]["text"]["text"]
    assert approval.startswith(f"*{messages.APPROVAL_TITLE}*\nFine-tuned · 000-") and "…and " in approval


def test_the_app_starts_without_its_feedback_database_and_feedback_returns_with_it(worker, late_database):
    late, database = late_database

    async def scenario():
        async with harness(worker.settings, feedback_slack_workspaces=[TEAM_ID], **database) as h:
            blocks = await caption_reply(h)  # captions go on
            while_down = await press(h, blocks, "feedback_vote_up")
            await h.dispatch(h.command("/feedback", user=ADMIN))
            await h.settle()
            review_while_down = h.slack.responses[-1]
            late.come_back()
            store = h.bot.feedback.store
            for _ in range(240):  # tried again in the background, every 2 s at first
                if store.ready:
                    break
                await asyncio.sleep(0.5)
            return blocks, while_down, review_while_down, await press(h, blocks, "feedback_vote_up")

    blocks, while_down, review_while_down, after = run(scenario())
    assert [e["action_id"] for _, e in buttons(blocks)][0] == "feedback_vote_up"
    assert while_down["text"] == messages.FEEDBACK_UNAVAILABLE
    assert review_while_down["text"] == messages.FEEDBACK_DB_UNREACHABLE
    assert after["text"] == messages.FEEDBACK_COUNTED


def test_review_buttons_from_before_feedback_was_turned_off_say_so(worker, feedback_on):
    async def scenario():
        async with harness(worker.settings, **feedback_on) as h:
            blocks = await caption_reply(h)
            view = await open_form(h, blocks)
            await h.dispatch(view_submission(view, MEMBER, "a red square on white"))
            await h.settle()  # the suggestion is stored (and its answer sent) before the list is asked for
            await h.dispatch(h.command("/feedback", user=ADMIN))
            await h.settle()
            listing = h.slack.responses[-1]["blocks"]
        async with harness(worker.settings) as off:  # restarted with FEEDBACK_* unset
            return await press(off, listing, "feedback_review_approve", ADMIN)

    answer = run(scenario())
    assert answer["text"] == messages.FEEDBACK_OFF and answer["response_type"] == "ephemeral"
