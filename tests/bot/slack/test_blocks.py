"""Block Kit rendering: the layout of each answer, and model output or file names that cannot become markup."""

from captionbot.bot import messages
from captionbot.bot.slack.blocks import (
    caption_blocks,
    compare_blocks,
    failure_blocks,
    models_blocks,
    outcome_blocks,
    reload_blocks,
)
from captionbot.bot.slack.files import SlackFile
from captionbot.core.control import WorkerReply
from captionbot.core.errors import ImageTooLarge
from captionbot.core.jobs import JobResult, Mode, ModelResult

FILE = SlackFile(
    "F0123ABCDE",
    "cat <b>.png",
    "image/png",
    10,
    "https://files.slack.com/x",
    "https://acme.slack.com/files/U1/F0123ABCDE/cat.png",
)


def result(**captions: list[str]) -> JobResult:
    return JobResult(
        job_id="j1",
        results={
            name: ModelResult(version=f"{name}-v", captions=texts, ms=812, queue_ms=4)
            for name, texts in captions.items()
        },
    )


def test_a_caption_is_a_section_then_a_context_line_with_model_time_and_image():
    caption, meta = caption_blocks(result(finetuned=["a dog on a beach"]), file=FILE)
    assert caption == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": f"*{messages.CAPTION_TITLE}*\na dog on a beach"},
    }
    assert [e["text"] for e in meta["elements"]] == [
        "Fine-tuned · finetuned-v",
        "0.81 s compute, 0.00 s in queue",
        "Image: <https://acme.slack.com/files/U1/F0123ABCDE/cat.png|cat &lt;b&gt;.png>",
    ]


def test_variations_are_numbered():
    body, _ = caption_blocks(result(pretrained=["one", "two", "three"]), Mode.variations)
    assert body["text"]["text"] == f"*{messages.VARIATIONS_TITLE}*\n1. one\n2. two\n3. three"


def test_compare_fields_are_pretrained_then_fine_tuned_each_with_version_caption_and_time():
    header, fields, image = compare_blocks(result(finetuned=["a dog"], pretrained=["an animal"]), FILE)
    assert [f["text"] for f in fields["fields"]] == [
        "*Pretrained · pretrained-v*\nan animal\n_0.81 s compute, 0.00 s in queue_",
        "*Fine-tuned · finetuned-v*\na dog\n_0.81 s compute, 0.00 s in queue_",
    ]
    assert header["text"]["text"] == f"*{messages.COMPARE_TITLE}*" and image["type"] == "context"


def test_model_output_cannot_mention_the_channel_or_make_a_link():
    body, _ = caption_blocks(result(finetuned=["<!channel> look & <https://evil.test|click>"]))
    assert body["text"]["text"].endswith("&lt;!channel&gt; look &amp; &lt;https://evil.test|click&gt;")


def test_several_images_each_name_their_file_and_failures_say_why():
    blocks = outcome_blocks([(FILE, result(finetuned=["a"])), (FILE, result(finetuned=["b"]))])
    assert [b["type"] for b in blocks] == ["section", "context"] * 2
    assert all("Image: <" in b["elements"][-1]["text"] for b in blocks if b["type"] == "context")
    (failed,) = failure_blocks([("huge <1>.png", ImageTooLarge("That file is too big."))])
    assert failed["text"]["text"] == ":warning: *No caption for huge &lt;1&gt;.png*\nThat file is too big."


def test_admin_answers_list_each_worker():
    replies = [
        WorkerReply(worker="gpu0@a", status="ok", version="v2", load_s=3.2, available=["v1", "v2"]),
        WorkerReply(
            worker="gpu1@a", status="refused", version="v1", reason="NaN in the probe caption", available=["v1", "v2"]
        ),
    ]
    (reload,) = reload_blocks("v2", replies)
    assert reload["text"]["text"].splitlines() == [
        "*Reload: v2*",
        "gpu0@a: now serving v2 (loaded in 3.2 s)",
        "gpu1@a: refused, still serving v1: NaN in the probe caption",
    ]
    (models,) = models_blocks(replies)
    assert models["text"]["text"].splitlines()[1:] == [
        "gpu0@a: fine-tuned v2",
        "gpu1@a: fine-tuned v1",
        "Available: v1, v2",
    ]
    (nobody,) = reload_blocks(None, [])
    assert nobody["text"]["text"] == f"*Reload: {messages.SLACK_RELOAD_CURRENT}*\n{messages.RELOAD_NO_WORKERS}"
