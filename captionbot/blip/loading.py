"""Loading a BLIP captioner, for the worker (both resident models), for training and for `evaluate`: where it
comes from, its version, its device and precision, its processor, and the decoding it was trained for (its
prompt), which is what it is decoded with whatever CAPTION_PROMPT says."""

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoTokenizer, BlipForConditionalGeneration, BlipProcessor
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

from captionbot.blip.pixels import ImageSpec
from captionbot.blip.prompt import PromptError, prompt_ids
from captionbot.blip.recipe import Decoding, DecodingError, recorded_decoding
from captionbot.blip.serving_decoder import ServingDecoder, supports
from captionbot.blip.vision import fuse_vision_attention
from captionbot.core.registry import require_safetensors
from captionbot.core.settings import BLIP_PROMPT, Settings

log = logging.getLogger(__name__)


class ModelLoadError(Exception):
    """A checkpoint could not be loaded; the message says which and why."""


@dataclass
class LoadedModel:
    name: str  # "finetuned", "pretrained", or what a training run calls its model
    version: str
    model: BlipForConditionalGeneration
    processor: BlipProcessor
    spec: ImageSpec
    decoding: Decoding  # its prompt, beams and token limits
    prompt: list[int]  # [DEC] and the prompt's tokens: where every caption starts, cut from every reply
    device: torch.device
    dtype: torch.dtype  # of the weights
    autocast: torch.dtype | None = None  # mixed precision over fp32 weights (training, evaluate); None: none
    decoder: ServingDecoder | None = None  # None: transformers' generate decodes it
    load_s: float = 0.0

    @property
    def tokenizer(self):
        return self.processor.tokenizer


@dataclass(frozen=True)
class ModelSource:
    location: str  # Hub id or folder
    version: str
    default_prompt: str = BLIP_PROMPT  # for a model that records no decoding of its own


def pretrained_source(settings: Settings) -> ModelSource:
    location = settings.pretrained_model
    path = Path(location)
    return ModelSource(location, path.name if path.is_dir() else location, settings.caption_prompt)


def load_processor(location: str | Path) -> BlipProcessor:
    """The model's tokenizer and image processor settings, saved with every checkpoint. The Pillow image
    processor is chosen explicitly (the torchvision one is only a fallback warning away in transformers v5);
    pictures themselves go through `pixels.py`."""
    return BlipProcessor(
        image_processor=BlipImageProcessorPil.from_pretrained(location),
        tokenizer=AutoTokenizer.from_pretrained(location),
    )


def load_pretrained(location: str | Path, dtype: torch.dtype = torch.float32) -> tuple[BlipForConditionalGeneration, BlipProcessor]:
    """A checkpoint's weights (in `dtype`, on the CPU) and processor; `ModelLoadError` says why it cannot load."""
    try:
        require_safetensors(location)  # pickled weights can run code as they load: never loaded
        model = BlipForConditionalGeneration.from_pretrained(location, dtype=dtype, use_safetensors=True)
        processor = load_processor(location)
    except Exception as err:  # noqa: BLE001 - safetensors, JSON, config and hub errors alike: unloadable
        raise ModelLoadError(f"could not load a BLIP captioner from {location}: {err}") from err
    fuse_vision_attention(model)
    return model, processor


def load_model(
    name: str, source: ModelSource, device: torch.device, dtype: torch.dtype, cpu_int8: bool = False,
    serving_decoder: bool = True, compile_vision: bool = False,
) -> LoadedModel:
    """Weights in `dtype` on `device`, in eval mode, decoded as the checkpoint records. `cpu_int8`: on the
    CPU, the vision encoder's Linear layers in int8 (`int8_vision`). `serving_decoder`: decode
    with the serving decoder where it applies, else with transformers' `generate`. `compile_vision`: on a GPU,
    the vision encoder under `torch.compile` (in place: its parameters and their names stay)."""
    started = time.perf_counter()
    try:
        model, processor = load_pretrained(source.location, dtype)
    except ModelLoadError as err:
        raise ModelLoadError(f"could not load the {name} model from {source.location}: {err.__cause__}") from err
    decoding = model_decoding(name, source, model, processor.tokenizer)
    model.to(device).eval()
    if cpu_int8 and device.type == "cpu":
        int8_vision(model)
    if compile_vision and device.type == "cuda":
        model.vision_model.compile()
    loaded = captioner(name, source.version, model, processor, decoding, device, dtype=dtype,
                       serving_decoder=serving_decoder)
    loaded.load_s = time.perf_counter() - started
    return loaded


def int8_vision(model: BlipForConditionalGeneration) -> BlipForConditionalGeneration:
    """The vision encoder's Linear weights to int8 in place, its activations quantized per token as they come
    (torchao's dynamic int8): the image pass 1.7x faster on a CPU (bench/int8_cpu.py). The text decoder stays in
    fp32: at a few rows a step torchao's eager int8 linear is slower than fp32 there (pytorch/ao#4365), and the
    serving decoder steps it as before."""
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    quantize_(model.vision_model, Int8DynamicActivationInt8WeightConfig())
    return model


def captioner(name: str, version: str, model: BlipForConditionalGeneration, processor: BlipProcessor,
              decoding: Decoding, device: torch.device, autocast: torch.dtype | None = None,
              dtype: torch.dtype | None = None, serving_decoder: bool = True) -> LoadedModel:
    """A model in memory (one being trained, say) as something to caption with: `PromptError` when its
    tokenizer cannot spell the decoding's prompt. Under `autocast` the serving decoder steps eagerly: its
    CUDA graphs are captured for weights in their serving precision."""
    decoder = None
    if serving_decoder and supports(model):
        decoder = ServingDecoder(model, static=False if autocast is not None else None)
    return LoadedModel(
        name=name,
        version=version,
        model=model,
        processor=processor,
        spec=ImageSpec.from_processor(processor.image_processor),
        decoding=decoding,
        prompt=prompt_ids(processor.tokenizer, model.config.text_config.bos_token_id, decoding),
        device=device,
        dtype=dtype or next(model.parameters()).dtype,
        autocast=autocast,
        decoder=decoder,
    )


def model_decoding(name: str, source: ModelSource, model, tokenizer) -> Decoding:
    """The decoding the checkpoint records (else BLIP's with CAPTION_PROMPT).

    A version trained with a prompt is served with it, one trained without is served without, whatever
    CAPTION_PROMPT says; a prompt its tokenizer cannot spell is refused, never served half-known."""
    try:
        recorded = recorded_decoding(source.location, source.default_prompt)
        prompt_ids(tokenizer, model.config.text_config.bos_token_id, recorded.decoding)
    except (DecodingError, PromptError) as err:
        raise ModelLoadError(f"the {name} model {source.version} cannot be served: {err}") from err
    if recorded.decoding.prompt != source.default_prompt:
        log.warning("%s %s decodes with the prompt %r (%s), not CAPTION_PROMPT %r", name, source.version,
                    recorded.decoding.prompt, recorded.origin, source.default_prompt)
    else:
        log.info("%s %s decodes with the prompt %r (%s)", name, source.version, recorded.decoding.prompt,
                 recorded.origin)
    return recorded.decoding
