"""How a model decodes its captions, recorded with every checkpoint so that everything that captions with it
(the workers, `evaluate`, `report`, the validation during training) decodes it the same way.

BLIP's captioner was fine-tuned with the prompt "a picture of " and decodes as its COCO captioner: beam
search with 3 beams, 5 to 20 tokens (salesforce/BLIP configs/caption_coco.yaml). As in its `BLIP_Decoder`,
the lengths count the whole decoder sequence: the decoder's start token and the prompt's tokens included.
Decoding starts from the prompt, and the prompt is cut from every caption.

    training_config.json  {"decoding": {"prompt": "a picture of ", "beams": 3, "min_length": 5, "max_length": 20}}

Torch-free: `publish` and `report` read a recipe without loading a model.
"""

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from captionbot.core.jobs import Options
from captionbot.core.registry import TRAINING_CONFIG_FILE, read_json
from captionbot.core.settings import BLIP_PROMPT, MAX_PROMPT_CHARS

BEAMS = 3
MIN_LENGTH = 5
MAX_LENGTH = 20
# Serving's default --max-words: at it a model decodes with its own budget; each word asked beyond it
# adds room for about 1.5 word pieces.
DEFAULT_MAX_WORDS = Options().max_words
TOKENS_PER_EXTRA_WORD = 1.5


def normalize_prompt(prompt: str) -> str:
    """Single spaces and one trailing space ("a picture of "), so "prompt + caption" splits into the prompt's
    word pieces and the caption's; "" stays "" (no prompt)."""
    words = prompt.split()
    return " ".join(words) + " " if words else ""


class DecodingError(ValueError):
    """A checkpoint's recorded decoding settings are unusable; the message says which and why."""


@dataclass(frozen=True)
class Decoding:
    prompt: str = BLIP_PROMPT
    beams: int = BEAMS
    min_length: int = MIN_LENGTH  # decoder tokens, [DEC] and the prompt's included
    max_length: int = MAX_LENGTH

    def max_length_for(self, max_words: int | None) -> int:
        """The token budget for captions of up to `max_words` words (None: the model's own)."""
        extra_words = max(0, (max_words or DEFAULT_MAX_WORDS) - DEFAULT_MAX_WORDS)
        return self.max_length + math.ceil(TOKENS_PER_EXTRA_WORD * extra_words)

    def limits(self, max_words: int | None, positions: int) -> tuple[int, int]:
        """(min_length, max_length) for captions of up to `max_words` words, counted as BLIP counts them
        ([DEC] and the prompt included), within the decoder's `positions`: the whole sequence must fit, or a
        small checkpoint would fail on a long `max_words` with an index error."""
        max_length = min(self.max_length_for(max_words), positions)
        return min(self.min_length, max_length), max_length

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: object) -> "Decoding":
        """Check what a training_config.json says; `DecodingError` names the field that is wrong."""
        if not isinstance(values, dict):
            raise DecodingError(f"`decoding` must be an object, not {type(values).__name__}")
        decoding = cls(**{key: values[key] for key in asdict(cls()) if key in values})
        if not isinstance(decoding.prompt, str) or len(decoding.prompt) > MAX_PROMPT_CHARS:
            raise DecodingError(f"`decoding.prompt` must be text of at most {MAX_PROMPT_CHARS} characters")
        numbers = (decoding.beams, decoding.min_length, decoding.max_length)
        if not all(isinstance(n, int) and n >= 1 for n in numbers) or decoding.min_length > decoding.max_length:
            raise DecodingError("`decoding.beams`, `min_length` and `max_length` must be whole numbers of 1 or "
                                "more, with min_length <= max_length")
        return decoding


@dataclass(frozen=True)
class RecordedDecoding:
    decoding: Decoding
    origin: str  # where the settings came from, for the log


def recorded_decoding(model: str | Path, default_prompt: str = BLIP_PROMPT) -> RecordedDecoding:
    """The decoding a model folder records; for models without a record (the Hub's, other folders), BLIP's
    settings with `default_prompt` (the CAPTION_PROMPT setting). A run of `captionbot train` from before
    prompts were recorded trained without one, so it decodes without one."""
    config = read_json(Path(model) / TRAINING_CONFIG_FILE) if Path(model).is_dir() else {}
    if "decoding" in config:
        return RecordedDecoding(Decoding.from_dict(config["decoding"]), f"recorded in its {TRAINING_CONFIG_FILE}")
    if config:
        return RecordedDecoding(Decoding(prompt=""), f"its {TRAINING_CONFIG_FILE} predates prompts: trained without one")
    return RecordedDecoding(Decoding(prompt=default_prompt), "no recorded settings: BLIP's, with CAPTION_PROMPT")
