"""Feedback under Discord caption replies, on SQLite and on PostgreSQL: the real bot, the real worker, clicks and
form submissions as Discord sends them. Votes count privately and change; a click after a bot restart still
counts; a better caption goes through the modal; hostile text is refused or shown escaped; admins review in
/feedback; a forgotten person is gone; nothing is stored for a reply nobody touches."""

import asyncio

import pytest
from sqlalchemy import func, select

from captionbot.bot import messages
from captionbot.feedback.identity import UserHasher
from captionbot.feedback.schema import Shown, Vote
from captionbot.feedback.stats import preferences
from captionbot.feedback.store import APPROVED, FeedbackStore
from tests.bot.discord import payloads as p
from tests.bot.discord.components import click, custom_ids, sent_message, submit
from tests.bot.discord.harness import Harness, async_test, image_bytes, running_bot
from tests.feedback.conftest import up_votes_on_many_versions


@pytest.fixture
def feedback_on(feedback_db: dict) -> dict:
    """Feedback turned on for the fake's server, on the test's database."""
    return {"feedback_discord_servers": lambda fake: [fake.guild_id], **feedback_db}


async def in_store(h: Harness, read):
    store = await FeedbackStore.open(h.settings)
    try:
        return await read(store)
    finally:
        await store.aclose()


async def count(store: FeedbackStore, table: type) -> int:
    async with store.sessions() as session:
        return await session.scalar(select(func.count()).select_from(table))


async def votes(store: FeedbackStore) -> list[tuple[str, str]]:
    async with store.sessions() as session:
        return [tuple(row) for row in await session.execute(select(Vote.user_hash, Vote.value))]


async def captioned_reply(h: Harness, person, command: str = "caption"):
    interaction = await h.slash(person, command, {"image": h.attachment(image_bytes())})
    return (await h.answer(interaction)).body


async def open_form(h: Harness, person, reply: dict) -> dict:
    """Click "Suggest a better caption"; returns the modal the bot answered with (its callback body)."""
    clicked = await click(h, person, sent_message(h, reply), custom_ids(reply)[2])
    return (await h.fake.wait_for_call(lambda c: c is h.callback(clicked))).body


async def suggested_and_listed(h: Harness, person, text: str) -> dict:
    """`person` suggests `text` under a caption of theirs; the /feedback list an admin then gets."""
    modal = await open_form(h, person, await captioned_reply(h, person))
    await h.answer(await submit(h, person, modal["data"], text))
    return (await h.answer(await h.slash(h.admin(), "feedback"))).body


async def click_and_answer(h: Harness, person, reply: dict, custom_id: str) -> tuple[dict, dict]:
    """The click's deferral and the answer that followed it."""
    clicked = await click(h, person, sent_message(h, reply), custom_id)
    answer = await h.answer(clicked)
    return h.callback(clicked).body, answer.body


@async_test
async def test_feedback_is_off_by_default_and_the_reply_has_no_buttons(worker):
    async with running_bot(worker.settings) as h:
        reply = await captioned_reply(h, h.person())
    assert custom_ids(reply) == []
    assert "footer" not in reply["embeds"][0]


@async_test
async def test_a_click_counts_a_vote_privately_and_a_second_click_changes_it(worker, feedback_on):
    async with running_bot(worker.settings, **feedback_on) as h:
        person = h.person()
        reply = await captioned_reply(h, person)
        up, down, suggest = custom_ids(reply)
        stored_before = await in_store(h, lambda store: count(store, Shown))
        deferral, first = await click_and_answer(h, person, reply, up)
        _, second = await click_and_answer(h, person, reply, down)
        _, again = await click_and_answer(h, person, reply, down)
        stored = await in_store(h, votes)
        forgotten = await in_store(h, lambda store: store.forget(UserHasher.from_settings(h.settings)("discord", person.id)))
        left = await in_store(h, lambda store: count(store, Shown))
    assert up.startswith("cb:fb:vote:up:") and down.startswith("cb:fb:vote:down:") and suggest.startswith("cb:fb:suggest:")
    assert reply["embeds"][-1]["footer"]["text"] == messages.FEEDBACK_FOOTER
    assert stored_before == 0  # nothing in the database until someone reacts
    assert (deferral["type"], deferral["data"]["flags"]) == (5, p.EPHEMERAL)
    assert (first["content"], second["content"], again["content"]) == (
        messages.FEEDBACK_COUNTED, messages.FEEDBACK_CHANGED, messages.FEEDBACK_UNCHANGED
    )
    hashed = UserHasher.from_settings(h.settings)("discord", person.id)
    assert stored == [(hashed, "down")] and person.id not in hashed
    assert forgotten == (1, 0) and left == 0


@async_test
async def test_a_click_after_the_bot_restarted_still_counts(worker, feedback_on):
    async with running_bot(worker.settings, **feedback_on) as before:
        person = before.person()
        reply = await captioned_reply(before, person)
        message = sent_message(before, reply)
        up = custom_ids(reply)[0]
    async with running_bot(worker.settings, **feedback_on) as after:  # a new process: nothing kept in memory
        clicked = await click(after, person, message, up)
        answer = await after.answer(clicked)
        stored = await in_store(after, votes)
    assert answer.body["content"] == messages.FEEDBACK_COUNTED
    assert [value for _, value in stored] == ["up"]


@async_test
async def test_compare_asks_which_model_was_better(worker, feedback_on):
    async with running_bot(worker.settings, **feedback_on) as h:
        person = h.person()
        reply = await captioned_reply(h, person, "compare")
        pretrained, finetuned, _ = custom_ids(reply)
        _, answer = await click_and_answer(h, person, reply, finetuned)
        pairs = await in_store(h, preferences)
    assert pretrained.startswith("cb:fb:vote:pretrained:") and finetuned.startswith("cb:fb:vote:finetuned:")
    assert answer["content"] == messages.FEEDBACK_COUNTED
    (pair,) = pairs
    assert pair.finetuned == "v1" and (pair.finetuned_preferred.wins, pair.finetuned_preferred.total) == (1, 1)


@async_test
async def test_a_better_caption_goes_through_the_form_and_hostile_ones_are_refused(worker, feedback_on):
    async with running_bot(worker.settings, **feedback_on) as h:
        person = h.person()
        reply = await captioned_reply(h, person)
        answers = {}
        for text in ("<@123456789012345678> look at this", "a" * 10_000, "red\x00square", "**a red** <b>square</b>"):
            modal = await open_form(h, person, reply)
            submitted = await submit(h, person, modal["data"], text)
            answers[text[:12]] = (await h.answer(submitted)).body["content"]
        stored = await in_store(h, lambda store: store.suggestions())
    assert modal["type"] == 9 and modal["data"]["custom_id"].startswith("cb:fb:form:")
    (text_input,) = [c for row in modal["data"]["components"] for c in row["components"]]
    assert (text_input["min_length"], text_input["max_length"]) == (5, 200)
    assert answers == {
        "<@1234567890": messages.FEEDBACK_REFUSED["mention"],
        "a" * 12: messages.FEEDBACK_REFUSED["length"],
        "red\x00square": messages.FEEDBACK_REFUSED["control"],
        "**a red** <b": messages.FEEDBACK_SUGGESTED,
    }
    (suggestion,) = stored
    assert suggestion.text == "**a red** <b>square</b>"  # kept as text, shown escaped


@async_test
async def test_admins_review_suggestions_in_feedback_with_buttons(worker, feedback_on):
    async with running_bot(worker.settings, **feedback_on) as h:
        person = h.person()
        listing = await suggested_and_listed(h, person, "**a red** square @ noon")
        approve, reject = custom_ids(listing)
        refused = await click_and_answer(h, person, listing, approve)
        approved = await click_and_answer(h, h.admin(), listing, approve)
        status = await in_store(h, lambda store: store.suggestions(status=None))
    (embed,) = listing["embeds"]
    assert "1 waiting" in embed["description"]
    (field,) = embed["fields"]
    assert field["name"].endswith(r"\*\*a red\*\* square @ noon")  # markdown escaped: shown as typed
    assert approve.startswith("cb:fb:review:approve:") and reject.startswith("cb:fb:review:reject:")
    assert refused[0]["data"]["content"] == messages.ADMIN_ONLY
    assert approved[1]["content"] == messages.FEEDBACK_REVIEWED.format(id=status[0].id, status=APPROVED)
    assert status[0].status == APPROVED


@async_test
async def test_a_posted_message_with_two_images_gets_a_row_of_buttons_for_each(worker, feedback_on):
    async with running_bot(worker.settings, **feedback_on) as h:
        person = h.person()
        photos = [h.attachment(image_bytes((200, 30, 30))), h.attachment(image_bytes((30, 30, 200)))]
        posted = await h.post(person, channel=h.fake.auto_channel, attachments=photos)
        reply = (await h.reply_to(posted)).body
    rows = reply["components"]
    assert len(rows) == 2
    assert rows[1]["components"][-1]["label"] == messages.FEEDBACK_SUGGEST_FOR.format(index=2)
    assert len({custom_ids({"components": [row]})[0] for row in rows}) == 2  # a token of its own per image


@async_test
async def test_models_shows_the_approval_rate_to_admins(worker, feedback_on):
    async with running_bot(worker.settings, **feedback_on) as h:
        person = h.person()
        reply = await captioned_reply(h, person)
        await click_and_answer(h, person, reply, custom_ids(reply)[0])
        listing = (await h.answer(await h.slash(h.admin(), "models"))).body
    models, approval = listing["embeds"]
    assert approval["title"] == messages.APPROVAL_TITLE
    assert approval["description"].startswith("Fine-tuned · v1: 👍 100% of 1 vote (95% CI 21%–100%)")


@async_test
async def test_models_with_many_rated_versions_stays_inside_one_message(worker, feedback_on):
    async with running_bot(worker.settings, **feedback_on) as h:
        await in_store(h, lambda store: up_votes_on_many_versions(store, 60))
        listing = (await h.answer(await h.slash(h.admin(), "models"))).body
    models, approval = listing["embeds"]
    assert approval["title"] == messages.APPROVAL_TITLE
    assert approval["description"].startswith("Fine-tuned · 000-") and "…and " in approval["description"]


@async_test
async def test_a_form_opened_before_a_restart_is_stored_after_it(worker, feedback_on):
    async with running_bot(worker.settings, **feedback_on) as before:
        person = before.person()
        modal = await open_form(before, person, await captioned_reply(before, person))
    async with running_bot(worker.settings, **feedback_on) as after:
        answer = await after.answer(await submit(after, person, modal["data"], "a red square, after all"))
        stored = await in_store(after, lambda store: store.suggestions())
    assert answer.body["content"] == messages.FEEDBACK_SUGGESTED
    assert [s.text for s in stored] == ["a red square, after all"]


@async_test
async def test_the_bot_starts_without_its_feedback_database_and_feedback_returns_with_it(worker, late_database):
    late, database = late_database
    async with running_bot(worker.settings, feedback_discord_servers=lambda fake: [fake.guild_id], **database) as h:
        person = h.person()
        reply = await captioned_reply(h, person)  # captions go on
        _, vote_while_down = await click_and_answer(h, person, reply, custom_ids(reply)[0])
        review_while_down = (await h.answer(await h.slash(h.admin(), "feedback"))).body
        late.come_back()
        store = h.bot.get_cog("Feedback").feedback.store
        for _ in range(240):  # tried again in the background, every 2 s at first
            if store.ready:
                break
            await asyncio.sleep(0.5)
        _, vote_after = await click_and_answer(h, person, reply, custom_ids(reply)[0])
    assert len(custom_ids(reply)) == 3  # the buttons are kept in Redis: offered all along
    assert vote_while_down["content"] == messages.FEEDBACK_UNAVAILABLE
    assert review_while_down["content"] == messages.FEEDBACK_DB_UNREACHABLE
    assert vote_after["content"] == messages.FEEDBACK_COUNTED


@async_test
async def test_review_buttons_from_before_feedback_was_turned_off_say_so(worker, feedback_on):
    async with running_bot(worker.settings, **feedback_on) as before:
        listing = await suggested_and_listed(before, before.person(), "a red square on white")
        message = sent_message(before, listing)
    async with running_bot(worker.settings) as after:  # restarted with FEEDBACK_* unset
        clicked = await click(after, after.admin(), message, custom_ids(listing)[0])
        answer = await after.answer(clicked)
    assert answer.body["content"] == messages.FEEDBACK_OFF and answer.ephemeral


@async_test
async def test_the_review_list_stays_inside_the_6000_characters_of_one_message(worker, feedback_on):
    """Five waiting 200-character suggestions on /compare replies of 50 long words each."""
    from dataclasses import replace

    from captionbot.feedback.shown import Place
    from tests.feedback.conftest import compare_reply, jpeg

    long = " ".join(["extraordinarily"] * 50)
    async with running_bot(worker.settings, **feedback_on) as h:
        where = Place("discord", str(h.fake.guild_id), h.fake.channel["id"])

        async def fill(store):
            for index in range(5):
                reply = replace(compare_reply(long, long, image=jpeg((index * 40, 20, 20))), place=where)
                await store.suggest(f"long{index}", reply, f"user{index}", f"{index} " + "w" * 198)

        await in_store(h, fill)
        listing = (await h.answer(await h.slash(h.admin(), "feedback"))).body
    (embed,) = listing["embeds"]
    assert len(embed["fields"]) == 5
    total = len(embed["title"]) + len(embed["description"]) + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= 6000 and all(f["value"].endswith("…") for f in embed["fields"])
