"""The training split's augmentation, on uint8 tensors, in torch. Everything else (validation, the training
split with --no-augment, evaluate, serving) takes the one plain path of `blip/pixels.py`.

Augmentation follows BLIP's caption fine-tuning minus what would make captions false: a random resized
crop (scale 0.5-1), a horizontal flip unless the caption says left or right, and colour jitter of
brightness, contrast and saturation but never hue, since captions name colours. Every random choice comes
from the `random.Random` passed in, so a sample's augmentation depends on (seed, epoch, index) only.
"""

import math
import random
import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from captionbot.blip.pixels import ImageSpec

SIDES = re.compile(r"\b(left|right)\b", re.IGNORECASE)
CROP_SCALE = (0.5, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)
JITTER = 0.2  # brightness, contrast and saturation factors drawn from [0.8, 1.2]
GREY_WEIGHTS = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)


def resize(image: torch.Tensor, size: int) -> torch.Tensor:
    """(3, H, W) any dtype -> (3, size, size) float in [0, 255], bicubic as BlipImageProcessor resizes."""
    resized = F.interpolate(image[None].float(), size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    return resized[0].clamp_(0, 255)


def crop_box(height: int, width: int, rng: random.Random) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a random crop covering 50-100% of the area at an aspect ratio of 3:4 to 4:3."""
    area = height * width
    for _ in range(10):
        target = area * rng.uniform(*CROP_SCALE)
        ratio = math.exp(rng.uniform(math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1])))
        w, h = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, height - h), rng.randint(0, width - w), h, w
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side, side


def colour_jitter(image: torch.Tensor, rng: random.Random) -> torch.Tensor:
    """Brightness, contrast, saturation on a (3, H, W) float image in [0, 255]; hue untouched."""
    image = image * rng.uniform(1 - JITTER, 1 + JITTER)
    grey = (image * GREY_WEIGHTS).sum(0, keepdim=True)  # (1, H, W)
    image = (image - grey.mean()) * rng.uniform(1 - JITTER, 1 + JITTER) + grey.mean()
    grey = (image * GREY_WEIGHTS).sum(0, keepdim=True)
    image = (image - grey) * rng.uniform(1 - JITTER, 1 + JITTER) + grey
    return image.clamp_(0, 255)


@dataclass(frozen=True)
class Augment:
    """uint8 (3, H, W) (a tensor or a picture store's array), shorter side at least the input size -> an
    augmented, normalised (3, size, size)."""

    spec: ImageSpec

    def __call__(self, image: torch.Tensor | np.ndarray, caption: str, rng: random.Random) -> torch.Tensor:
        image = torch.as_tensor(image)
        top, left, h, w = crop_box(image.shape[1], image.shape[2], rng)
        picture = resize(image[:, top : top + h, left : left + w], self.spec.size)
        if rng.random() < 0.5 and not SIDES.search(caption):
            picture = picture.flip(-1)
        picture = colour_jitter(picture, rng)
        mean = torch.tensor(self.spec.mean).view(3, 1, 1)
        std = torch.tensor(self.spec.std).view(3, 1, 1)
        return (picture / 255.0 - mean) / std
