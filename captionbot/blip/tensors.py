"""A batch of model pictures (`pixels.py`, the one preprocessing path) as the tensor the model takes."""

import numpy as np
import torch
from PIL import Image

from captionbot.blip.pixels import ImageSpec, pixel_values


def to_pixel_values(
    pictures: list[Image.Image], spec: ImageSpec, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """(B, 3, size, size) on `device` in `dtype`; pictures of another size are resized to the spec first."""
    return to_device(pixel_values(pictures, spec), device, dtype)


def to_device(values: np.ndarray, device: torch.device | None, dtype: torch.dtype) -> torch.Tensor:
    """Normalised pixel values to the device: through pinned host memory and a non-blocking copy on CUDA, so
    the thread that launches the model's work does not wait for the copy."""
    host = torch.from_numpy(values)
    if device is not None and device.type == "cuda":
        return host.pin_memory().to(device, dtype, non_blocking=True)
    return host.to(device=device, dtype=dtype)
