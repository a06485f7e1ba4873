"""The job's options from query parameters and form fields (a form field wins), checked against the job
contract's ranges; anything unknown, out of range or contradictory is `InvalidOptions` with a sentence that
names it. What the chosen mode does not use is kept, with why, for the answer to say (`AppliedOptions`)."""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from captionbot.api import messages
from captionbot.api.schemas import AppliedOptions
from captionbot.core.errors import InvalidOptions
from captionbot.core.jobs import (
    BEAMS,
    MAX_WORDS,
    MODEL_NAMES,
    TEMPERATURE,
    VARIATION_TEMPERATURES,
    Mode,
    ModelName,
    Options,
    make_options,
)

OPTION_NAMES = ("model", "compare", "variations", "max_words", "beams", "temperature")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_NUMBERS: dict[str, tuple[Callable[[str], float], str, tuple[float, float]]] = {
    "max_words": (int, "a whole number", MAX_WORDS),
    "beams": (int, "a whole number", BEAMS),
    "temperature": (float, "a number", TEMPERATURE),
}
_ECHO_CHARS = 20  # how much of a bad value a sentence repeats


@dataclass(frozen=True)
class JobChoice:
    models: tuple[ModelName, ...]
    mode: Mode
    options: Options
    ignored: dict[str, str] = field(default_factory=dict)  # option sent -> why this mode does not use it

    def applied(self) -> AppliedOptions:
        """What shaped the captions, for the answer: the options used (defaults included) and those ignored."""
        variations = self.mode == Mode.variations
        single_model = len(self.models) == 1
        return AppliedOptions(
            models=list(self.models),
            mode=self.mode,
            max_words=self.options.max_words,
            beams=self.options.beams if single_model and not variations else None,
            temperatures=[round(t * self.options.temperature, 3) for t in VARIATION_TEMPERATURES] if variations else None,
            ignored=self.ignored,
        )


def job_choice(values: Mapping[str, str]) -> JobChoice:
    unknown = sorted(set(values) - set(OPTION_NAMES))
    if unknown:
        names = f"{', '.join(OPTION_NAMES[:-1])} and {OPTION_NAMES[-1]}"
        raise InvalidOptions(messages.UNKNOWN_OPTION.format(name=unknown[0], names=names))
    compare = _flag(values, "compare")
    model = values.get("model", "finetuned")
    if model not in MODEL_NAMES:
        raise InvalidOptions(messages.BAD_MODEL)
    if compare and "model" in values:
        raise InvalidOptions(messages.MODEL_WITH_COMPARE)
    mode = Mode.variations if _flag(values, "variations") else Mode.single
    options = make_options(**{name: _number(values, name) for name in _NUMBERS})
    return JobChoice(
        models=MODEL_NAMES if compare else (model,), mode=mode, options=options, ignored=_ignored(values, mode, compare)
    )


def _flag(values: Mapping[str, str], name: str) -> bool:
    value = values.get(name, "false").strip().lower()
    if value not in _TRUE + _FALSE:
        raise InvalidOptions(messages.BAD_FLAG.format(name=name))
    return value in _TRUE


def _number(values: Mapping[str, str], name: str) -> float | None:
    """The option's value within its range, or None where it was not sent (the contract's default)."""
    if name not in values:
        return None
    parse, kind, (low, high) = _NUMBERS[name]
    raw = values[name].strip()
    try:
        value = parse(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # NaN fails too
        shown = raw if len(raw) <= _ECHO_CHARS else raw[:_ECHO_CHARS] + "…"
        raise InvalidOptions(messages.BAD_NUMBER.format(name=name, kind=kind, low=low, high=high, value=shown))
    return value


def _ignored(values: Mapping[str, str], mode: Mode, compare: bool) -> dict[str, str]:
    ignored = {}
    if "beams" in values and mode == Mode.variations:
        ignored["beams"] = messages.BEAMS_IN_VARIATIONS
    elif "beams" in values and compare:
        ignored["beams"] = messages.BEAMS_IN_COMPARE
    if "temperature" in values and mode == Mode.single:
        ignored["temperature"] = messages.TEMPERATURE_IN_SINGLE
    return ignored
