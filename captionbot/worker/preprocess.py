"""Image bytes to the model's input tensor: draft-mode decode, one resize, normalisation in torch.

The same arithmetic as `BlipImageProcessor` (bicubic resize to a square, rescale 1/255, normalise with the
checkpoint's mean and std), without decoding a 12 MP JPEG at full size first.
"""

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from captionbot.core.images import decode_image


@dataclass(frozen=True)
class ImageSpec:
    """What a checkpoint's processor expects."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_processor(cls, image_processor: object) -> "ImageSpec":
        size = image_processor.size
        side = size["height"] if hasattr(size, "__getitem__") else int(size)
        return cls(side, tuple(image_processor.image_mean), tuple(image_processor.image_std))


def load_picture(data: bytes, spec: ImageSpec, max_bytes: int, max_pixels: int) -> Image.Image:
    """Decode (JPEG in draft mode at the smallest scale that covers the input) and resize once."""
    picture = decode_image(data, max_bytes, max_pixels, min_side=spec.size)
    return picture.resize((spec.size, spec.size), Image.Resampling.BICUBIC)


def to_pixel_values(
    pictures: list[Image.Image], spec: ImageSpec, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Resized RGB pictures to normalised pixel values, shape (B, 3, size, size).

    The bytes travel to the device as uint8 (a quarter of float32) and are normalised there in one
    multiply-add: (x / 255 - mean) / std = x * scale + shift."""
    channels_first = np.stack([np.asarray(p, dtype=np.uint8) for p in pictures]).transpose(0, 3, 1, 2)  # (B, 3, H, W)
    pixels = torch.from_numpy(np.ascontiguousarray(channels_first)).to(device).to(torch.float32)
    scale = torch.tensor([1 / (255 * s) for s in spec.std], device=pixels.device).view(1, 3, 1, 1)
    shift = torch.tensor([-m / s for m, s in zip(spec.mean, spec.std)], device=pixels.device).view(1, 3, 1, 1)
    return pixels.mul_(scale).add_(shift).to(dtype)
