"""What follows `/caption` and `/compare`: an optional Slack file link, flags and `name=value` options, in any
order (`/caption variations max-words=15 https://…`). Mistakes raise `InvalidOptions` with a sentence naming
the word, or the option's range, and the usage."""

from dataclasses import dataclass

from captionbot.bot import messages
from captionbot.core.errors import InvalidOptions
from captionbot.core.jobs import Mode, ModelName, Options, make_options

HELP_WORDS = ("help", "-h", "--help")
# name → (keyword of make_options, type, an example value)
VALUE_OPTIONS = {
    "max-words": ("max_words", int, "20"),
    "beams": ("beams", int, "3"),
    "temperature": ("temperature", float, "1.2"),
}
CAPTION_FLAGS = ("variations", "pretrained", "finetuned", "private")
CAPTION_VALUES = ("max-words", "beams", "temperature")
COMPARE_FLAGS = ("private",)
COMPARE_VALUES = ("max-words", "beams")


@dataclass(frozen=True)
class CaptionArgs:
    link: str | None = None
    models: tuple[ModelName, ...] = ("finetuned",)
    mode: Mode = Mode.single
    options: Options = Options()
    private: bool = False


def wants_help(text: str) -> bool:
    return text.strip().lower() in HELP_WORDS


def parse_caption(text: str) -> CaptionArgs:
    link, flags, values = _parse(text, CAPTION_FLAGS, CAPTION_VALUES, messages.SLACK_CAPTION_USAGE)
    model: ModelName = "pretrained" if "pretrained" in flags else "finetuned"
    mode = Mode.variations if "variations" in flags else Mode.single
    return CaptionArgs(link, (model,), mode, make_options(**values), "private" in flags)


def parse_compare(text: str) -> CaptionArgs:
    link, flags, values = _parse(text, COMPARE_FLAGS, COMPARE_VALUES, messages.SLACK_COMPARE_USAGE)
    return CaptionArgs(link, ("pretrained", "finetuned"), Mode.single, make_options(**values), "private" in flags)


def _parse(text: str, flags: tuple[str, ...], names: tuple[str, ...], usage: str) -> tuple[str | None, set[str], dict]:
    link, seen, values = None, set(), {}
    for word in text.split():
        if _is_link(word):
            if link is not None:
                raise InvalidOptions(messages.SLACK_ONE_LINK.format(usage=usage))
            link = _unwrap_link(word)
            continue
        name, _, value = word.lower().lstrip("-").replace("_", "-").partition("=")
        if name in flags and not value:
            seen.add(name)
        elif name in names and value:
            keyword, kind, example = VALUE_OPTIONS[name]
            try:
                values[keyword] = kind(value)
            except ValueError as err:
                raise InvalidOptions(messages.SLACK_NOT_A_NUMBER.format(option=name, example=example)) from err
        else:
            raise InvalidOptions(messages.SLACK_UNKNOWN_WORD.format(word=word, usage=usage))
    return link, seen, values


def _is_link(word: str) -> bool:
    return word.startswith("<") or "://" in word


def _unwrap_link(word: str) -> str:
    """Slack sends links as `<https://…|label>` or `<https://…>` when it formats them, bare otherwise; and
    escapes `&` in command text."""
    if word.startswith("<") and word.endswith(">"):
        word = word[1:-1].split("|", 1)[0]
    return word.replace("&amp;", "&")
