"""What the API answers, as pydantic models (they make the OpenAPI document), and the captions request's
body and parameters, which the route reads itself to cap the upload and check options in one place."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from captionbot.core.jobs import BEAMS, MAX_WORDS, MODEL_NAMES, TEMPERATURE, Mode, ModelName, ModelResult, Options


class AppliedOptions(BaseModel):
    """What shaped the captions: the options the job used, defaults included, and every option the request sent
    that this mode does not use, with why (nothing sent is dropped without a word)."""

    models: list[ModelName] = Field(description="the models that captioned it: one, or both for a compare")
    mode: Mode = Field(description="single: one caption by beam search; variations: three sampled captions")
    max_words: int = Field(description="each caption is cut to this many words")
    beams: int | None = Field(
        description="beam search's beams; null where each model uses its own (compare) or captions are sampled"
    )
    temperatures: list[float] | None = Field(
        description="each variation's sampling temperature, in the order of the captions; null for beam search"
    )
    ignored: dict[str, str] = Field(description="options sent that this mode does not use, each with why")


class CaptionResponse(BaseModel):
    """The job contract's result (per model, its version, its captions and its timings) and the options applied."""

    job_id: str
    results: dict[ModelName, ModelResult]
    worker: str | None = Field(None, description="the worker that captioned it")
    options: AppliedOptions


class RegistryVersion(BaseModel):
    name: str
    current: bool = Field(description="the registry's CURRENT, which workers load at start")
    metrics: dict[str, Any] = Field(description="scores recorded when the version was published")


class WorkerModels(BaseModel):
    worker: str
    finetuned: str | None = Field(description="the fine-tuned version it serves (none: pretrained only)")
    pretrained: str | None


class ModelsResponse(BaseModel):
    current: str | None = Field(description="the registry's CURRENT version")
    versions: list[RegistryVersion] = Field(description="versions in the registry this API reads (MODEL_DIR)")
    workers: list[WorkerModels] = Field(description="workers serving this API's queue, as last checked")
    workers_checked_at: float = Field(description="when the workers were last checked (Unix time)")


class Check(BaseModel):
    model_config = ConfigDict(extra="allow")

    ok: bool


class HealthResponse(BaseModel):
    status: Literal["ok", "failing"]
    checks: dict[str, Check] = Field(description="each check by name; a failing one says why")


class Sample(BaseModel):
    name: str
    title: str = Field(description="what the photo shows, for its alt text")
    url: str


_DEFAULTS = Options()
OPTION_SCHEMAS: dict[str, dict] = {
    "model": {"type": "string", "enum": list(MODEL_NAMES), "default": "finetuned", "description": "which model captions it"},
    "compare": {
        "type": "boolean",
        "default": False,
        "description": "caption with both models, each decoded with its own beams; not together with model",
    },
    "variations": {"type": "boolean", "default": False, "description": "three sampled captions instead of beam search"},
    "max_words": {"type": "integer", "minimum": MAX_WORDS[0], "maximum": MAX_WORDS[1], "default": _DEFAULTS.max_words},
    "beams": {
        "type": "integer",
        "minimum": BEAMS[0],
        "maximum": BEAMS[1],
        "default": _DEFAULTS.beams,
        "description": "beam search's beams, for one model without variations (otherwise named in options.ignored)",
    },
    "temperature": {
        "type": "number",
        "minimum": TEMPERATURE[0],
        "maximum": TEMPERATURE[1],
        "default": _DEFAULTS.temperature,
        "description": "scales the variations' temperatures 0.7, 1.0, 1.3 (otherwise named in options.ignored)",
    },
}


def captions_openapi(max_image_bytes: int) -> dict:
    """`openapi_extra` for POST /v1/captions: the two ways to send the image, the options as parameters."""
    image = {"type": "string", "format": "binary", "description": f"at most {max_image_bytes} bytes"}
    return {
        "parameters": [
            {"name": name, "in": "query", "required": False, "schema": schema} for name, schema in OPTION_SCHEMAS.items()
        ],
        "requestBody": {
            "required": True,
            "description": "The image as the multipart file field `image` (options may be form fields too), or "
            "as the whole body. JPEG, PNG, WebP, GIF or BMP.",
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["image"],
                        "properties": {"image": image, **OPTION_SCHEMAS},
                    },
                    "encoding": {"image": {"contentType": "image/*, application/octet-stream"}},
                },
                "application/octet-stream": {"schema": image},
                "image/*": {"schema": image},
            },
        },
    }
