"""The one preprocessing path from image bytes to a model's input, used by serving, by the validation during
training and by `evaluate` / `report`, so the same image gives the same pixels everywhere.

The arithmetic of `BlipImageProcessor` (bicubic resize to a square, rescale by 1/255, normalise with the
checkpoint's mean and std), without decoding a 12 MP JPEG at full size first (draft mode, `decode_image`).
Pillow and numpy only, so a process that only decodes images never imports torch; `tensors.py` puts the
array on the device.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from captionbot.core.images import decode_image


@dataclass(frozen=True)
class ImageSpec:
    """What a checkpoint's image processor expects."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_processor(cls, image_processor: object) -> "ImageSpec":
        size = image_processor.size
        side = size["height"] if hasattr(size, "__getitem__") else int(size)
        return cls(int(side), tuple(image_processor.image_mean), tuple(image_processor.image_std))


def model_picture(data: bytes, spec: ImageSpec, max_bytes: int, max_pixels: int) -> Image.Image:
    """Image bytes to the upright RGB picture the model sees, size × size (JPEGs decoded in draft mode)."""
    return fit(decode_image(data, max_bytes, max_pixels, min_side=spec.size), spec)


def picture_array(data: bytes, spec: ImageSpec, max_bytes: int, max_pixels: int) -> np.ndarray:
    """`model_picture` as a uint8 array, (size, size, 3): what a decoding process hands back."""
    return np.asarray(model_picture(data, spec, max_bytes, max_pixels))


def fit(picture: Image.Image, spec: ImageSpec) -> Image.Image:
    """One bicubic resize to the model's square, where the picture is not that size already."""
    size = (spec.size, spec.size)
    return picture if picture.size == size else picture.resize(size, Image.Resampling.BICUBIC)


def stacked(pictures: Sequence[Image.Image | np.ndarray], spec: ImageSpec) -> np.ndarray:
    """Pictures (or their uint8 arrays) as one uint8 array, (B, size, size, 3)."""
    return np.stack([_array(picture, spec) for picture in pictures])


def _array(picture: Image.Image | np.ndarray, spec: ImageSpec) -> np.ndarray:
    if isinstance(picture, np.ndarray):
        if picture.shape[:2] == (spec.size, spec.size):
            return picture
        picture = Image.fromarray(picture)  # made for a model of another size: resized once more
    return np.asarray(fit(picture, spec))


def normalisation(spec: ImageSpec) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift), float32 (3,): pixel values are x * scale + shift = (x / 255 - mean) / std. Serving applies
    the same two float32 operations on the device (`tensors.py`), so both give the same bits."""
    scale = np.array([1 / (255 * s) for s in spec.std], dtype=np.float32)
    shift = np.array([-m / s for m, s in zip(spec.mean, spec.std)], dtype=np.float32)
    return scale, shift


def pixel_values(pictures: Sequence[Image.Image | np.ndarray], spec: ImageSpec) -> np.ndarray:
    """Pictures to normalised float32 pixel values, (B, 3, size, size): (x / 255 - mean) / std."""
    scale, shift = normalisation(spec)
    values = stacked(pictures, spec).astype(np.float32) * scale + shift  # (B, S, S, 3)
    return np.ascontiguousarray(values.transpose(0, 3, 1, 2))
