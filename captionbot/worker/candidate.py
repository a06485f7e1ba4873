"""Making a fine-tuned version fit to serve, the same way at every reload and at every start: fetch it from the
registry (from object storage into the checked cache), load it, and check it. Whatever fails here is refused
with the reason; nothing unchecked is ever served, so a version a reload refused is not served after a restart.
"""

from pathlib import Path

import torch
from PIL import Image

from captionbot.blip.devices import pick_device, pick_dtype
from captionbot.core.errors import CaptionError
from captionbot.core.registry import Registry, RegistryError
from captionbot.core.settings import Settings
from captionbot.worker.generation import beam_captions
from captionbot.worker.models import LoadedModel, ModelLoadError, ModelSource, load_model
from captionbot.worker.preprocess import to_pixel_values


class CheckFailed(Exception):
    """A loaded checkpoint is unfit to serve; the message says why."""


# Every way a version can be refused; each carries a sentence (`.message`, or its text) saying why.
REFUSALS = (CheckFailed, ModelLoadError, CaptionError, RegistryError)


def refusal_reason(err: Exception) -> str:
    return getattr(err, "message", None) or str(err)


def prepare_version(registry: Registry, settings: Settings, version: str) -> LoadedModel:
    """Fetch (checked against its manifest), load and check a registry version."""
    path = registry.local_copy(version, settings.model_cache_dir, settings.model_cache_keep)
    return load_checked(ModelSource(str(path), version, settings.caption_prompt), settings)


def load_folder(folder: str, settings: Settings) -> LoadedModel:
    """A save_pretrained folder outside the registry (FINETUNED_MODEL, check-model), named after itself."""
    return load_checked(ModelSource(folder, Path(folder).resolve().name, settings.caption_prompt), settings)


def load_checked(source: ModelSource, settings: Settings) -> LoadedModel:
    """Raises `ModelLoadError` (also for a decoding record it cannot serve) or `CheckFailed`; the half-loaded
    model goes with the exception."""
    device = pick_device(settings.device)
    candidate = load_model("finetuned", source, device, pick_dtype(device), settings.cpu_int8)
    check(candidate)
    return candidate


def probe_picture(size: int) -> Image.Image:
    """A smooth colour gradient, size × size."""
    ramp = torch.linspace(0, 255, size).to(torch.uint8)
    rgb = torch.stack([ramp.expand(size, size), ramp.expand(size, size).T, ramp.flip(0).expand(size, size)], dim=-1)
    return Image.fromarray(rgb.numpy())


def check(candidate: LoadedModel) -> None:
    """It loads (done), its processor matches its config, it captions a probe image, its outputs are finite."""
    config = candidate.model.config
    if candidate.spec.size != config.vision_config.image_size:
        raise CheckFailed(
            f"its processor resizes to {candidate.spec.size} px but the model expects {config.vision_config.image_size} px"
        )
    if len(candidate.tokenizer) > config.text_config.vocab_size:
        raise CheckFailed(
            f"its tokenizer has {len(candidate.tokenizer)} tokens but the model only {config.text_config.vocab_size}"
        )
    pixel_values = to_pixel_values([probe_picture(candidate.spec.size)], candidate.spec, candidate.device, candidate.dtype)
    with torch.inference_mode():
        input_ids = torch.tensor([[config.text_config.bos_token_id]], device=candidate.device)
        logits = candidate.model(pixel_values=pixel_values.to(candidate.device, candidate.dtype), input_ids=input_ids).logits
    if not torch.isfinite(logits).all():
        raise CheckFailed("it produces non-finite outputs (NaN or infinity) on a probe image")
    (caption,) = beam_captions(candidate, pixel_values, beams=1, max_words=10)
    if not caption.strip():
        raise CheckFailed("it captions a probe image with nothing")
