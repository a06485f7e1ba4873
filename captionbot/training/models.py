"""Load BLIP captioners and their processors from folders or the Hub, and make random ones to start from."""

from pathlib import Path

import torch
from transformers import AutoTokenizer, BlipForConditionalGeneration, BlipProcessor
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

from captionbot.training.scratch import caption_words, save_random_blip

RANDOM_PREFIX = "random:"
RANDOM_SHAPES = ("tiny", "base")


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load_processor(model: str | Path) -> BlipProcessor:
    """The processor as serving uses it: the Pillow image processor, chosen explicitly (the torchvision one
    is only a fallback warning away in transformers v5), and the model's own tokenizer."""
    return BlipProcessor(
        image_processor=BlipImageProcessorPil.from_pretrained(model),
        tokenizer=AutoTokenizer.from_pretrained(model),
    )


def load_model(model: str | Path, device: torch.device | str = "cpu") -> BlipForConditionalGeneration:
    """fp32 weights (autocast does the mixed precision), on `device`."""
    return BlipForConditionalGeneration.from_pretrained(model, dtype=torch.float32).to(device)


def image_size(processor: BlipProcessor) -> int:
    return int(processor.image_processor.size["height"])


def is_random(base: str) -> bool:
    return base.startswith(RANDOM_PREFIX)


def write_random_base(base: str, captions: list[str], output: Path, seed: int) -> Path:
    """`random:tiny` / `random:base`: a random-weight BLIP whose vocabulary holds the captions' words."""
    return save_random_blip(output, caption_words(captions), shape=base.removeprefix(RANDOM_PREFIX), seed=seed)
