"""Block Kit for every answer. The layout is here; the words come from `captionbot.bot.messages`.

Slack parses both blocks' mrkdwn and a message's top-level `text` (the fallback notifications show) for links and
mentions, so `&`, `<` and `>` are escaped in both, as Slack's "Formatting message text" page, "Escaping text",
asks (https://docs.slack.dev/messaging/formatting-message-text#escaping): neither a model's output, nor a file
name, nor a word someone typed can become a link or an @channel. No answer carries a blank caption."""

from collections.abc import Sequence

from captionbot.bot import messages
from captionbot.bot.slack.files import SlackFile
from captionbot.core.control import WorkerReply
from captionbot.core.errors import CaptionError
from captionbot.core.jobs import JobResult, Mode

SECTION_LIMIT = 3000  # characters of a section's text
FIELD_LIMIT = 2000  # characters of one section field
NAME_LIMIT = 80

Block = dict


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain_text(text: str) -> str:
    """A message's top-level `text`: escaped, and never blank (it is what notifications show)."""
    return escape(text.strip() or messages.NO_CAPTION)


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}


def context(*parts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": part} for part in parts if part]}


def image_link(file: SlackFile | None) -> str:
    if file is None:
        return ""
    name = escape(file.name[:NAME_LIMIT])
    if not file.permalink:
        return name
    return messages.SLACK_IMAGE_LINK.format(permalink=file.permalink, name=name)


def caption_blocks(result: JobResult, mode: Mode = Mode.single, file: SlackFile | None = None) -> list[Block]:
    """One model's caption (or three variations), then the model with its version, the time taken, the image."""
    ((name, model),) = result.results.items()
    captions = [escape(messages.shown_caption(c)) for c in model.captions]
    if mode == Mode.variations:
        body = f"*{messages.VARIATIONS_TITLE}*\n" + "\n".join(f"{i}. {c}" for i, c in enumerate(captions, 1))
    else:
        body = f"*{messages.CAPTION_TITLE}*\n{captions[0]}"
    label = messages.model_label(name, escape(model.version))
    return [section(body), context(label, messages.timing(model.ms, model.queue_ms), image_link(file))]


def compare_blocks(result: JobResult, file: SlackFile | None = None) -> list[Block]:
    """Both models side by side: section fields render as two columns, each headed by model and version."""
    fields = []
    for name in ("pretrained", "finetuned"):
        model = result.results[name]
        label, timing = messages.model_label(name, escape(model.version)), messages.timing(model.ms, model.queue_ms)
        text = f"*{label}*\n{escape(messages.shown_caption(model.captions[0]))}\n_{timing}_"
        fields.append({"type": "mrkdwn", "text": text[:FIELD_LIMIT]})
    blocks = [section(f"*{messages.COMPARE_TITLE}*"), {"type": "section", "fields": fields}]
    if file is not None:
        blocks.append(context(image_link(file)))
    return blocks


def failure_blocks(failures: Sequence[tuple[str, CaptionError]]) -> list[Block]:
    """Each refused or failed image by name, with the sentence that says why and what to do."""
    blocks = []
    for name, error in failures:
        title = messages.SLACK_FAILED_TITLE.format(name=escape(name[:NAME_LIMIT]))
        blocks.append(section(f":warning: *{title}*\n{escape(error.message)}"))
    return blocks


def outcome_blocks(captioned: Sequence[tuple[SlackFile, JobResult]]) -> list[Block]:
    """The captions of one message's images; each names its image when there are several."""
    several = len(captioned) > 1
    blocks = []
    for file, result in captioned:
        blocks.extend(caption_blocks(result, file=file if several else None))
    return blocks


def caption_text(result: JobResult) -> str:
    """The top-level text Slack shows in notifications: the fine-tuned caption, else the other model's."""
    model = result.results.get("finetuned") or next(iter(result.results.values()))
    return plain_text(model.captions[0])


def reload_blocks(version: str | None, replies: Sequence[WorkerReply]) -> list[Block]:
    title = messages.SLACK_RELOAD_TITLE.format(version=escape(version or messages.SLACK_RELOAD_CURRENT))
    if not replies:
        return [section(f"*{title}*\n{messages.RELOAD_NO_WORKERS}")]
    lines = [escape(messages.reload_line(r.worker, r.status, r.version, r.load_s, r.reason)) for r in replies]
    return [section(f"*{title}*\n" + messages.join_capped(lines, SECTION_LIMIT - len(title) - 4))]


def models_blocks(replies: Sequence[WorkerReply]) -> list[Block]:
    if not replies:
        return [section(f"*{messages.SLACK_MODELS_TITLE}*\n{messages.RELOAD_NO_WORKERS}")]
    live = {r.worker: r.version for r in replies}
    available = sorted({version for r in replies for version in r.available})
    text = escape(messages.models_text(live, available, SECTION_LIMIT - 200))
    return [section(f"*{messages.SLACK_MODELS_TITLE}*\n{text}")]
