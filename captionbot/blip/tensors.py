"""A batch of model pictures (`pixels.py`, the one preprocessing path) as the tensor the model takes."""

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from captionbot.blip.pixels import ImageSpec, normalisation, stacked


def to_pixel_values(pictures: Sequence[Image.Image | np.ndarray], spec: ImageSpec,
                    device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(B, 3, size, size) on `device` in `dtype`; pictures of another size are resized to the spec first.

    The uint8 pictures travel (a quarter of the bytes of float32), through pinned host memory and a
    non-blocking copy on CUDA so the thread that launches the model's work does not wait; they are normalised
    on the device with `pixels.normalisation`'s two float32 operations, so the values equal `pixel_values`'s."""
    host = torch.from_numpy(stacked(pictures, spec))  # (B, S, S, 3) uint8
    target = torch.device("cpu") if device is None else torch.device(device)
    if target.type == "cuda":
        host = host.pin_memory()
    scale, shift = (torch.from_numpy(part).to(target) for part in normalisation(spec))
    values = host.to(target, non_blocking=True).float() * scale + shift
    return values.permute(0, 3, 1, 2).contiguous().to(dtype)
