"""Every sentence the bots say, in one place. Platform modules choose the layout, never the words."""

from captionbot.core.errors import ACCEPTED_IMAGES

MODEL_TITLES = {"finetuned": "Fine-tuned", "pretrained": "Pretrained"}

WORKING = "Captioning…"
CAPTION_TITLE = "Caption"
VARIATIONS_TITLE = "Three captions"
COMPARE_TITLE = "Pretrained and fine-tuned, side by side"
NOT_AN_IMAGE_ATTACHMENT = f"That attachment is not an image; send a {ACCEPTED_IMAGES} file."
NO_IMAGE_FOUND = "I found no image to caption; attach one, or post one in this channel first."
ADMIN_ONLY = "Only the captioner's admins can do that."
RELOAD_STARTED = "Asking every worker to load version {version}…"
RELOAD_NO_WORKERS = "No worker answered; the caption service may be down."
NO_VERSIONS = "No fine-tuned version is published yet."
COOLDOWN = "You're going a little fast; try again in {seconds:.0f} seconds."
UNEXPECTED = "Something went wrong on our side; please try again."
AUTO_CAPTION_INTENT_OFF = (
    "message_content intent is off: auto-captioning posted images is disabled; commands, mentions and the "
    "context menu still work. Enable 'Message Content Intent' in the Discord developer portal to turn it on."
)


def model_label(name: str, version: str) -> str:
    return f"{MODEL_TITLES.get(name, name)} · {version}"


def timing(ms: float, queue_ms: float) -> str:
    return f"{ms / 1000:.2f} s compute, {queue_ms / 1000:.2f} s in queue"


def reload_line(worker: str, status: str, version: str | None, load_s: float | None, reason: str | None) -> str:
    if status in ("ok", "unchanged"):
        took = f" (loaded in {load_s:.1f} s)" if load_s is not None else ""
        return f"{worker}: now serving {version}{took}"
    if status == "no_answer":
        return f"{worker}: did not answer in time"
    return f"{worker}: refused, still serving {version or 'no fine-tuned model'}: {reason or 'no reason given'}"


def models_lines(live: dict[str, str | None], available: list[str]) -> list[str]:
    lines = [f"{worker}: fine-tuned {version or 'none'}" for worker, version in sorted(live.items())]
    lines.append("Available: " + (", ".join(available) if available else NO_VERSIONS))
    return lines
