"""The job contract: what a bot or the CLI sends to a worker, and what comes back.

Messages travel as JSON (Celery is configured for JSON only); image bytes are base64 inside it.
"""

import base64
import binascii
import re
import time
import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
)

from captionbot.core.errors import CaptionError, InvalidOptions

ModelName = Literal["finetuned", "pretrained"]
MODEL_NAMES: tuple[ModelName, ...] = ("finetuned", "pretrained")
TASK_NAME = "captionbot.caption"

# A job's id is also its Celery task id, a Redis key part and a word in log lines: letters, digits, '-', '_'.
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

MAX_WORDS = (10, 50)
BEAMS = (1, 5)
TEMPERATURE = (0.5, 2.0)
VARIATION_TEMPERATURES = (0.7, 1.0, 1.3)


def _from_base64(value: object) -> object:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as err:
            raise ValueError("image must be base64") from err
    return value


# Raw bytes in Python, base64 text on the wire.
ImageBytes = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(lambda raw: base64.b64encode(raw).decode("ascii"), return_type=str, when_used="json"),
]


class Mode(StrEnum):
    single = "single"  # beam search, one caption
    variations = "variations"  # three sampled captions at rising temperature


class Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_words: Annotated[int, Field(ge=MAX_WORDS[0], le=MAX_WORDS[1])] = 20
    beams: Annotated[int, Field(ge=BEAMS[0], le=BEAMS[1])] = 3
    # Scales the variation temperatures (1.0 keeps 0.7 / 1.0 / 1.3); unused by beam search.
    temperature: Annotated[float, Field(ge=TEMPERATURE[0], le=TEMPERATURE[1])] = 1.0


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(default_factory=lambda: uuid.uuid4().hex, pattern=f"^{JOB_ID.pattern}$")
    image: ImageBytes
    models: tuple[ModelName, ...] = ("finetuned",)
    mode: Mode = Mode.single
    options: Options = Options()
    submitted_at: float = Field(default_factory=time.time)
    # Epoch seconds when the sender stops waiting: a worker never computes the job after it. None: no deadline.
    deadline: float | None = None

    @field_validator("models")
    @classmethod
    def _models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError("name one model, or both for compare, each once")
        return value

    def expired(self, margin_s: float = 0.0) -> bool:
        """Whether the job cannot be answered before its deadline, `margin_s` from now."""
        return self.deadline is not None and time.time() + margin_s >= self.deadline

    def wire(self) -> dict:
        """The JSON-ready form sent through the queue."""
        return self.model_dump(mode="json")


class ModelResult(BaseModel):
    version: str
    captions: list[str]
    ms: float  # this model's compute time
    queue_ms: float  # from submission to the start of compute


class JobResult(BaseModel):
    job_id: str
    results: dict[ModelName, ModelResult] = {}
    error: dict[str, str] | None = None
    worker: str | None = None

    def raise_for_error(self) -> "JobResult":
        from captionbot.core.errors import error_from_dict

        if self.error is not None:
            raise error_from_dict(self.error)
        return self

    @classmethod
    def failed(cls, job_id: str, error: CaptionError, worker: str | None = None) -> "JobResult":
        return cls(job_id=job_id, error=error.to_dict(), worker=worker)


def make_options(**values: object) -> Options:
    """Options from user input; out-of-range values raise `InvalidOptions` naming the option and its range."""
    try:
        return Options(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as err:
        raise InvalidOptions(_describe(err)) from err


_RANGES = {"max_words": MAX_WORDS, "beams": BEAMS, "temperature": TEMPERATURE}


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "option"
    if name in _RANGES:
        low, high = _RANGES[name]
        return f"{name.replace('_', '-')} must be between {low} and {high}."
    return f"{name.replace('_', '-')}: {first['msg']}."
