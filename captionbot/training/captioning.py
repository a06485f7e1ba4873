"""Caption pictures or files for scoring with `blip.decoding.beam_captions`, the function serving calls, each
model with its own decoding (`blip/recipe.py`), pictures through the one preprocessing path (`blip/pixels.py`),
so these captions are the ones `captionbot caption` gives."""

from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from captionbot.blip.decoding import beam_captions
from captionbot.blip.loading import LoadedModel
from captionbot.blip.pixels import ImageSpec, pixel_values
from captionbot.training.dataset import read_model_picture


def _batches(items: Sequence, size: int) -> Iterable[list]:
    """Lists of up to `size` items; `items` only needs len() and [i], so pictures can be made lazily."""
    for start in range(0, len(items), size):
        yield [items[i] for i in range(start, min(start + size, len(items)))]


def caption_pictures(loaded: LoadedModel, pictures: Sequence[torch.Tensor], batch_size: int = 32,
                     beams: int | None = None) -> list[str]:
    """Captions of normalised pictures, each (3, S, S), in batches of `batch_size` (one beam search each)."""
    was_training = loaded.model.training
    loaded.model.eval()
    try:
        return [caption for batch in _batches(pictures, batch_size)
                for caption in beam_captions(loaded, torch.stack(batch), beams)]
    finally:
        loaded.model.train(was_training)


def file_pixel_values(paths: Sequence[Path], spec: ImageSpec) -> torch.Tensor:
    """(B, 3, S, S) of image files, as serving makes them from the same bytes."""
    return torch.from_numpy(pixel_values([read_model_picture(Path(path), spec) for path in paths], spec))


def caption_files(loaded: LoadedModel, paths: Sequence[Path], batch_size: int = 16, beams: int | None = None,
                  progress=None) -> list[str]:
    loaded.model.eval()
    captions: list[str] = []
    for batch in _batches(paths, batch_size):
        captions += beam_captions(loaded, file_pixel_values(batch, loaded.spec), beams)
        if progress is not None:
            progress.update(len(batch))
    return captions
