"""Caption pictures or files for scoring, each model with its own decoding (`core.decoding`: its prompt,
beams and token limits; BLIP's COCO captioner: 3 beams, 5 to 20 tokens with the prompt), pictures through
the one preprocessing path (`core.pixels`), so these captions are the ones `captionbot caption` gives."""

from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from captionbot.blip.decoding import beam_search
from captionbot.core.decoding import Decoding
from captionbot.core.pixels import ImageSpec, pixel_values
from captionbot.training.dataset import read_model_picture


def _batches(items: Sequence, size: int) -> Iterable[list]:
    """Lists of up to `size` items; `items` only needs len() and [i], so pictures can be made lazily."""
    for start in range(0, len(items), size):
        yield [items[i] for i in range(start, min(start + size, len(items)))]


def caption_pictures(model, tokenizer, pictures: Sequence[torch.Tensor], decoding: Decoding, batch_size: int = 32,
                     beams: int | None = None, dtype: torch.dtype | None = None) -> list[str]:
    """Captions of normalised pictures, each (3, S, S), in batches of `batch_size` (one beam search each);
    `dtype`: autocast for fp32 weights."""
    was_training = model.training
    model.eval()
    try:
        return [caption for batch in _batches(pictures, batch_size)
                for caption in beam_search(model, tokenizer, torch.stack(batch), decoding, beams, dtype=dtype)]
    finally:
        model.train(was_training)


def file_pixel_values(paths: Sequence[Path], spec: ImageSpec) -> torch.Tensor:
    """(B, 3, S, S) of image files, as serving makes them from the same bytes."""
    return torch.from_numpy(pixel_values([read_model_picture(Path(path), spec) for path in paths], spec))


def caption_files(model, tokenizer, spec: ImageSpec, paths: Sequence[Path], decoding: Decoding, batch_size: int = 16,
                  beams: int | None = None, progress=None) -> list[str]:
    model.eval()
    captions: list[str] = []
    for batch in _batches(paths, batch_size):
        captions += beam_search(model, tokenizer, file_pixel_values(batch, spec), decoding, beams)
        if progress is not None:
            progress.update(len(batch))
    return captions
