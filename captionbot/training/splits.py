"""Split a data set by image, never by caption, the same way on every run.

All captions of an image land in one split, so no test image was seen in training under another caption.
The full Flickr8k (8000 to 8091 images: the Kaggle copy has all 8091) is cut 6000/1000/1000 like the
release's split lists, which leave the other 91 images out too; other sizes are cut 6:1:1.
"""

import random
from collections.abc import Sequence
from typing import Protocol, TypeVar

SPLITS = ("train", "val", "test")
FULL_SET = range(8000, 8092)  # image counts that are the full Flickr8k
FULL_SET_SIZES = (6000, 1000, 1000)
SPLIT_SEED = 8000  # fixed on purpose: the split must not move when a training run changes --seed


class HasImage(Protocol):
    image: str


T = TypeVar("T", bound=HasImage)


def split_sizes(n_images: int) -> tuple[int, int, int]:
    """(train, val, test) image counts; what they leave out of n_images is not used."""
    if n_images in FULL_SET:
        return FULL_SET_SIZES
    held_out = 0 if n_images < 3 else max(1, round(n_images / 8))
    return n_images - 2 * held_out, held_out, held_out


def cut(ordered: Sequence) -> tuple[dict[str, list], list]:
    """Test first, then val, then train, in `split_sizes`; and what is left out."""
    train, val, test = split_sizes(len(ordered))
    bounds = {"train": (test + val, test + val + train), "val": (test, test + val), "test": (0, test)}
    parts = {name: list(ordered[start:end]) for name, (start, end) in bounds.items()}
    return parts, list(ordered[test + val + train :])


def split_by_image(examples: Sequence[T]) -> tuple[dict[str, list[T]], list[T]]:
    """train/val/test by image name (sorted, shuffled with a fixed seed, then cut), and what is left out."""
    ordered = sorted(examples, key=lambda example: example.image)
    random.Random(SPLIT_SEED).shuffle(ordered)
    parts, left_out = cut(ordered)
    return {name: sorted(part, key=lambda example: example.image) for name, part in parts.items()}, left_out
