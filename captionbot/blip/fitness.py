"""Whether a loaded checkpoint is fit to serve: the same check at every reload, at every worker start, in
`captionbot check-model` and in `publish --activate`. Whatever fails here is refused with the reason."""

import torch
from PIL import Image

from captionbot.blip.decoding import beam_captions
from captionbot.blip.devices import pick_device, pick_dtype
from captionbot.blip.loading import LoadedModel, ModelLoadError, ModelSource, load_model
from captionbot.blip.tensors import to_pixel_values


class CheckFailed(Exception):
    """A loaded checkpoint is unfit to serve; the message says why."""


UNFIT = (ModelLoadError, CheckFailed)  # what `load_checked` raises, each with a sentence saying why


def load_checked(source: ModelSource, device: str = "auto", cpu_int8: bool = False,
                 serving_decoder: bool = True, compile_vision: bool = False) -> LoadedModel:
    """Load and check a fine-tuned model on `device` in its serving precision. Raises `ModelLoadError` (also for
    a decoding record it cannot serve) or `CheckFailed`; the half-loaded model goes with the exception."""
    chosen = pick_device(device)
    candidate = load_model("finetuned", source, chosen, pick_dtype(chosen), cpu_int8, serving_decoder, compile_vision)
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
        logits = candidate.model(pixel_values=pixel_values, input_ids=input_ids).logits
    if not torch.isfinite(logits).all():
        raise CheckFailed("it produces non-finite outputs (NaN or infinity) on a probe image")
    (caption,) = beam_captions(candidate, pixel_values, beams=1, max_words=10)
    if not caption.strip():
        raise CheckFailed("it captions a probe image with nothing")
