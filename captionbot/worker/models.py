"""Loading the two resident models: where each comes from, its version, its device and precision, and the
decoding it was trained for (its prompt), which is what serves it whatever CAPTION_PROMPT says."""

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoProcessor, BlipForConditionalGeneration

from captionbot.blip.decoding import PromptError, prompt_ids
from captionbot.core.decoding import BLIP_PROMPT, Decoding, DecodingError, recorded_decoding
from captionbot.core.pixels import ImageSpec
from captionbot.core.registry import require_safetensors
from captionbot.core.settings import Settings

log = logging.getLogger(__name__)


class ModelLoadError(Exception):
    """A checkpoint could not be loaded; the message says which and why."""


@dataclass
class LoadedModel:
    name: str  # "finetuned" or "pretrained"
    version: str
    model: BlipForConditionalGeneration
    tokenizer: object
    spec: ImageSpec
    decoding: Decoding  # its prompt, beams and token limits
    prompt: list[int]  # [DEC] and the prompt's tokens: where every caption starts, cut from every reply
    device: torch.device
    dtype: torch.dtype
    load_s: float = 0.0


@dataclass(frozen=True)
class ModelSource:
    location: str  # Hub id or folder
    version: str
    default_prompt: str = BLIP_PROMPT  # for a model that records no decoding of its own


def pretrained_source(settings: Settings) -> ModelSource:
    location = settings.pretrained_model
    path = Path(location)
    return ModelSource(location, path.name if path.is_dir() else location, settings.caption_prompt)


def load_model(
    name: str, source: ModelSource, device: torch.device, dtype: torch.dtype, cpu_int8: bool = False
) -> LoadedModel:
    """`cpu_int8`: on the CPU, quantize the Linear layers to int8 (dynamic), several times faster there."""
    started = time.perf_counter()
    try:
        require_safetensors(source.location)
        model = BlipForConditionalGeneration.from_pretrained(source.location, dtype=dtype, use_safetensors=True)
        processor = AutoProcessor.from_pretrained(source.location)
    except Exception as err:  # noqa: BLE001 - safetensors, JSON, config and hub errors alike: unloadable
        raise ModelLoadError(f"could not load the {name} model from {source.location}: {err}") from err
    decoding, prompt = model_decoding(name, source, model, processor.tokenizer)
    model.to(device).eval()
    if cpu_int8 and device.type == "cpu":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return LoadedModel(
        name=name,
        version=source.version,
        model=model,
        tokenizer=processor.tokenizer,
        spec=ImageSpec.from_processor(processor.image_processor),
        decoding=decoding,
        prompt=prompt,
        device=device,
        dtype=dtype,
        load_s=time.perf_counter() - started,
    )


def model_decoding(name: str, source: ModelSource, model, tokenizer) -> tuple[Decoding, list[int]]:
    """The decoding the checkpoint records (else BLIP's with CAPTION_PROMPT), and its prompt's tokens.

    A version trained with a prompt is served with it, one trained without is served without, whatever
    CAPTION_PROMPT says; a prompt its tokenizer cannot spell is refused, never served half-known."""
    try:
        recorded = recorded_decoding(source.location, source.default_prompt)
        prompt = prompt_ids(tokenizer, model.config.text_config.bos_token_id, recorded.decoding)
    except (DecodingError, PromptError) as err:
        raise ModelLoadError(f"the {name} model {source.version} cannot be served: {err}") from err
    if recorded.decoding.prompt != source.default_prompt:
        log.warning("%s %s decodes with the prompt %r (%s), not CAPTION_PROMPT %r", name, source.version,
                    recorded.decoding.prompt, recorded.origin, source.default_prompt)
    else:
        log.info("%s %s decodes with the prompt %r (%s)", name, source.version, recorded.decoding.prompt,
                 recorded.origin)
    return recorded.decoding, prompt
