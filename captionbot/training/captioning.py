"""Caption pictures or files with a BLIP model for scoring: beam search as BLIP's COCO captioner
(3 beams, 5 to 20 new tokens, salesforce/BLIP configs/caption_coco.yaml)."""

from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from pathlib import Path

import torch

from captionbot.core.images import decode_image
from captionbot.training.dataset import MAX_FILE_BYTES, MAX_PIXELS

MIN_NEW_TOKENS = 5
MAX_NEW_TOKENS = 20


def autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


@torch.no_grad()
def generate_captions(model, tokenizer, pixel_values: torch.Tensor, beams: int = 3,
                      dtype: torch.dtype | None = None) -> list[str]:
    """pixel_values (B, 3, S, S) -> B captions."""
    device = next(model.parameters()).device
    with autocast(device, dtype):
        ids = model.generate(pixel_values=pixel_values.to(device), num_beams=beams, do_sample=False,
                             max_new_tokens=MAX_NEW_TOKENS, min_new_tokens=MIN_NEW_TOKENS)  # (B, T)
    return [text.strip() for text in tokenizer.batch_decode(ids, skip_special_tokens=True)]


def _batches(items: Sequence, size: int) -> Iterable[list]:
    """Lists of up to `size` items; `items` only needs len() and [i], so pictures can be made lazily."""
    for start in range(0, len(items), size):
        yield [items[i] for i in range(start, min(start + size, len(items)))]


def caption_pictures(model, tokenizer, pictures: Sequence[torch.Tensor], batch_size: int = 32, beams: int = 3,
                     dtype: torch.dtype | None = None) -> list[str]:
    """Captions of already transformed pictures, each (3, S, S)."""
    was_training = model.training
    model.eval()
    try:
        return [caption for batch in _batches(pictures, batch_size)
                for caption in generate_captions(model, tokenizer, torch.stack(batch), beams, dtype)]
    finally:
        model.train(was_training)


def caption_files(model, processor, paths: Sequence[Path], batch_size: int = 16, beams: int = 3,
                  dtype: torch.dtype | None = None, progress=None) -> list[str]:
    """Captions of image files, preprocessed by the model's own processor exactly as serving does."""
    model.eval()
    captions: list[str] = []
    for batch in _batches(paths, batch_size):
        images = [decode_image(Path(path).read_bytes(), MAX_FILE_BYTES, MAX_PIXELS) for path in batch]
        pixel_values = processor(images=images, return_tensors="pt").pixel_values
        captions += generate_captions(model, processor.tokenizer, pixel_values, beams, dtype)
        if progress is not None:
            progress.update(len(batch))
    return captions
