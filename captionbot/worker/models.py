"""Loading the two resident models: where each comes from, its version, its device and precision."""

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoProcessor, BlipForConditionalGeneration

from captionbot.core.settings import Settings
from captionbot.worker.preprocess import ImageSpec

log = logging.getLogger(__name__)


class ModelLoadError(Exception):
    """A checkpoint could not be loaded; the message says which and why."""


@dataclass
class LoadedModel:
    name: str  # "finetuned" or "pretrained"
    version: str
    source: str
    model: BlipForConditionalGeneration
    tokenizer: object
    spec: ImageSpec
    device: torch.device
    dtype: torch.dtype
    load_s: float = 0.0
    loaded_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ModelSource:
    location: str  # Hub id or folder
    version: str


def pick_device(setting: str) -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def pick_dtype(device: torch.device) -> torch.dtype:
    """bf16 on GPUs that have it, fp16 on older ones, fp32 on the CPU."""
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def pretrained_source(settings: Settings) -> ModelSource:
    location = settings.pretrained_model
    path = Path(location)
    return ModelSource(location, path.name if path.is_dir() else location)


def load_model(
    name: str, source: ModelSource, device: torch.device, dtype: torch.dtype, cpu_int8: bool = False
) -> LoadedModel:
    """`cpu_int8`: on the CPU, quantize the Linear layers to int8 (dynamic), several times faster there."""
    started = time.perf_counter()
    try:
        model = BlipForConditionalGeneration.from_pretrained(source.location, dtype=dtype)
        processor = AutoProcessor.from_pretrained(source.location)
    except Exception as err:  # noqa: BLE001 - safetensors, JSON, config and hub errors alike: unloadable
        raise ModelLoadError(f"could not load the {name} model from {source.location}: {err}") from err
    model.to(device).eval()
    if cpu_int8 and device.type == "cpu":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return LoadedModel(
        name=name,
        version=source.version,
        source=source.location,
        model=model,
        tokenizer=processor.tokenizer,
        spec=ImageSpec.from_processor(processor.image_processor),
        device=device,
        dtype=dtype,
        load_s=time.perf_counter() - started,
    )
