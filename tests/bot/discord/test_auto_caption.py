"""Which posted messages get a reply, and the shape of that reply; captions themselves are in the end-to-end
tests. Each test ends by mentioning the bot: once that reply is in, earlier messages have been handled."""

from captionbot.bot import messages
from tests.bot.discord.harness import PDF, Harness, async_test, image_bytes, replies_to, running_bot


async def handled_all(h: Harness) -> None:
    await h.reply_to(await h.post(h.person("marker"), mention_bot=True, content="ping"))


def replies(h: Harness, message: dict) -> list:
    return [c for c in h.fake.calls if replies_to(c, message)]


@async_test
async def test_images_outside_auto_caption_channels_are_left_alone_unless_the_bot_is_mentioned(idle_settings):
    async with running_bot(idle_settings) as h:
        elsewhere = await h.post(h.person(), attachments=[h.attachment(image_bytes(), ephemeral=False)])
        await handled_all(h)
        assert replies(h, elsewhere) == [] and h.downloads() == []


@async_test
async def test_other_bots_and_other_files_in_an_auto_caption_channel_get_no_reply(idle_settings):
    async with running_bot(idle_settings) as h:
        robot = h.person("robot")
        robot.user["bot"] = True
        from_a_bot = await h.post(
            robot, channel=h.fake.auto_channel, attachments=[h.attachment(image_bytes(), ephemeral=False)]
        )
        a_pdf = await h.post(
            h.person(),
            channel=h.fake.auto_channel,
            attachments=[h.attachment(PDF, "a.pdf", "application/pdf", ephemeral=False)],
        )
        await handled_all(h)
        assert replies(h, from_a_bot) == [] and replies(h, a_pdf) == [] and h.downloads() == []


@async_test
async def test_a_mention_without_an_image_says_how_to_ask(idle_settings):
    async with running_bot(idle_settings) as h:
        message = await h.post(h.person(), mention_bot=True, content="what is this?")
        reply = await h.reply_to(message)
    assert reply.body["content"] == messages.DISCORD_NO_IMAGE_MENTION
    assert reply.body["allowed_mentions"] == {"parse": [], "replied_user": False}


@async_test
async def test_several_files_get_one_reply_with_an_answer_for_each_while_typing_shows(idle_settings):
    async with running_bot(idle_settings) as h:
        files = [
            h.attachment(PDF, "minutes.pdf", "application/pdf", ephemeral=False),
            h.attachment(image_bytes(), "diagram.svg", "image/svg+xml", ephemeral=False),
            h.attachment(image_bytes(), "huge.png", "image/png", size=40 * 1024 * 1024, ephemeral=False),
        ]
        message = await h.post(h.person(), mention_bot=True, attachments=files)
        reply = await h.reply_to(message)
        typing = h.fake.calls_to("POST", f"/channels/{h.fake.channel['id']}/typing")
    assert typing and typing[0].at < reply.at
    assert reply.path == f"/channels/{h.fake.channel['id']}/messages"
    assert [e["title"] for e in reply.body["embeds"]] == [
        f"{messages.DISCORD_FAILED_TITLE} · image 1 of 3 · minutes.pdf",
        f"{messages.DISCORD_FAILED_TITLE} · image 2 of 3 · diagram.svg",
        f"{messages.DISCORD_FAILED_TITLE} · image 3 of 3 · huge.png",
    ]
    assert [e["description"] for e in reply.body["embeds"]] == [
        messages.NOT_AN_IMAGE_ATTACHMENT,
        messages.DISCORD_UNSUPPORTED_TYPE.format(kind="SVG"),
        "That file is 40.0 MB, over the 25.0 MB limit; send a smaller image.",
    ]


@async_test
async def test_a_mention_replying_to_an_image_captions_that_image(idle_settings):
    async with running_bot(idle_settings) as h:
        original = h.message(
            h.person(), attachments=[h.attachment(PDF, "scan.pdf", "application/pdf", ephemeral=False)]
        )
        question = h.message(h.person("ben"), mention_bot=True, content="what's this?")
        question["message_reference"] = {
            "type": 0,
            "message_id": original["id"],
            "channel_id": original["channel_id"],
            "guild_id": h.fake.guild_id,
        }
        question["referenced_message"] = original
        question["type"] = 19
        await h.fake.dispatch("MESSAGE_CREATE", question)
        reply = await h.reply_to(question)
    (embed,) = reply.body["embeds"]
    assert embed["title"].endswith("scan.pdf") and embed["description"] == messages.NOT_AN_IMAGE_ATTACHMENT


@async_test
async def test_failures_in_an_auto_caption_channel_are_marked_quietly_on_the_post_not_replied_to(idle_settings):
    """Nobody asked: an image no worker answers in time gets ⏳ and one refused gets ⚠️, on the post itself, and no
    reply fills the channel. (No worker runs here: the job times out.)"""
    async with running_bot(idle_settings) as h:
        waited = await h.post(
            h.person(), channel=h.fake.auto_channel, attachments=[h.attachment(image_bytes(), ephemeral=False)]
        )
        too_big = await h.post(
            h.person(),
            channel=h.fake.auto_channel,
            attachments=[h.attachment(image_bytes(), "huge.png", size=40 * 1024 * 1024, ephemeral=False)],
        )
        await h.fake.wait_until(lambda: len(h.fake.reactions) == 2, timeout=idle_settings.job_timeout_s + 20)
        await handled_all(h)
        reactions = {(message, emoji) for _, message, emoji in h.fake.reactions}
        assert replies(h, waited) == [] and replies(h, too_big) == []
    assert reactions == {
        (waited["id"], messages.DISCORD_AUTO_CAPTION_RETRY),
        (too_big["id"], messages.DISCORD_AUTO_CAPTION_REFUSED),
    }
