"""Load BLIP captioners and their processors from folders or the Hub, and make random ones to start from."""

from pathlib import Path

import torch
from transformers import AutoTokenizer, BlipForConditionalGeneration, BlipProcessor
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

from captionbot.core.pixels import ImageSpec
from captionbot.training.options import RANDOM_PREFIX
from captionbot.training.scratch import caption_words, save_random_blip


def load_processor(model: str | Path) -> BlipProcessor:
    """The model's tokenizer and image processor settings, saved with every checkpoint. The Pillow image
    processor is chosen explicitly (the torchvision one is only a fallback warning away in transformers v5);
    pictures themselves go through `core.pixels`, as serving's do."""
    return BlipProcessor(
        image_processor=BlipImageProcessorPil.from_pretrained(model),
        tokenizer=AutoTokenizer.from_pretrained(model),
    )


def load_model(model: str | Path, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> BlipForConditionalGeneration:
    """Weights in `dtype` on `device`: fp32 to train (autocast does the mixed precision), bf16/fp16 to caption."""
    return BlipForConditionalGeneration.from_pretrained(model, dtype=dtype, use_safetensors=True).to(device)


def image_spec(processor: BlipProcessor) -> ImageSpec:
    return ImageSpec.from_processor(processor.image_processor)


def write_random_base(base: str, texts: list[str], output: Path, seed: int) -> Path:
    """`random:tiny` / `random:base`: a random-weight BLIP whose vocabulary holds the words of `texts` (the
    training captions and the prompt)."""
    return save_random_blip(output, caption_words(texts), shape=base.removeprefix(RANDOM_PREFIX), seed=seed)
