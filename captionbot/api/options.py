"""The job's options from query parameters and form fields (a form field wins), checked against the job
contract's ranges; anything out of range or unknown is `InvalidOptions` with a sentence that names it."""

from collections.abc import Mapping
from dataclasses import dataclass

from captionbot.api import messages
from captionbot.core.errors import InvalidOptions
from captionbot.core.jobs import MODEL_NAMES, Mode, ModelName, Options, make_options

OPTION_NAMES = ("model", "compare", "variations", "max_words", "beams", "temperature")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


@dataclass(frozen=True)
class JobChoice:
    models: tuple[ModelName, ...]
    mode: Mode
    options: Options


def job_choice(values: Mapping[str, str]) -> JobChoice:
    unknown = sorted(set(values) - set(OPTION_NAMES))
    if unknown:
        names = f"{', '.join(OPTION_NAMES[:-1])} and {OPTION_NAMES[-1]}"
        raise InvalidOptions(messages.UNKNOWN_OPTION.format(name=unknown[0], names=names))
    model = values.get("model", "finetuned")
    if model not in MODEL_NAMES:
        raise InvalidOptions(messages.BAD_MODEL)
    models = MODEL_NAMES if _flag(values, "compare") else (model,)
    mode = Mode.variations if _flag(values, "variations") else Mode.single
    options = make_options(max_words=values.get("max_words"), beams=values.get("beams"), temperature=values.get("temperature"))
    return JobChoice(models=models, mode=mode, options=options)


def _flag(values: Mapping[str, str], name: str) -> bool:
    value = values.get(name, "false").strip().lower()
    if value not in _TRUE + _FALSE:
        raise InvalidOptions(messages.BAD_FLAG.format(name=name))
    return value in _TRUE
