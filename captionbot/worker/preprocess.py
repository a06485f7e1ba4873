"""A batch of model pictures (`core.pixels`, the one preprocessing path) as the tensor the model takes."""

import torch
from PIL import Image

from captionbot.core.pixels import ImageSpec, pixel_values


def to_pixel_values(
    pictures: list[Image.Image], spec: ImageSpec, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """(B, 3, size, size) on `device` in `dtype`; pictures of another size are resized to the spec first."""
    return torch.from_numpy(pixel_values(pictures, spec)).to(device=device, dtype=dtype)
