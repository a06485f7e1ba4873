"""A cap on images per message: past MAX_IMAGES_PER_MESSAGE, files are answered and never downloaded."""

import json

from tests.bot.slack.harness import harness, image
from tests.bot.slack.test_events import run


def test_images_past_the_cap_are_answered_without_a_download(worker):
    settings = worker.settings.model_copy(update={"max_images_per_message": 2})

    async def scenario():
        async with harness(settings) as h:
            files = [h.slack.add_file(image(color=(i * 60, 90, 200)), f"shot-{i}.png") for i in range(3)]
            await h.dispatch(h.shared(files))
            await h.slack.wait_for(lambda: h.slack.called("chat.postMessage") and h.slack.called("chat.postEphemeral"))
            await h.settle()
            return h.slack

    slack = run(scenario())
    (reply,) = slack.called("chat.postMessage")
    (told,) = slack.called("chat.postEphemeral")
    assert len(slack.file_hits) == 2 and "shot-2.png" not in json.dumps(reply)
    assert "Only the first 2 images of a message are captioned" in told["text"] and "shot-2.png" in json.dumps(told)
