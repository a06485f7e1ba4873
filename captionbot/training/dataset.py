"""Training batches: pictures from a picture store (`picture_store.py`), (image, caption) pairs, and the collator
that turns captions into decoder inputs and targets the way BLIP trains: from [DEC] and the prompt."""

import random
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from captionbot.blip.pixels import ImageSpec, model_picture, pixel_values
from captionbot.blip.prompt import prompt_ids
from captionbot.blip.recipe import Decoding
from captionbot.core.errors import ImageRejected
from captionbot.core.images import decode_image
from captionbot.training.data import Example
from captionbot.training.picture_plan import Split

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_PIXELS = 200_000_000
IGNORE_INDEX = -100  # CrossEntropyLoss's ignore_index: padding is left out of the loss


def read_picture(path: Path, side: int) -> torch.Tensor:
    """A file as uint8 (3, H, W), its shorter side brought down to `side` (JPEGs decoded in draft mode): what
    the augmentation crops from."""
    try:
        image = decode_image(path.read_bytes(), MAX_FILE_BYTES, MAX_PIXELS, min_side=side)
    except ImageRejected as err:
        raise ImageRejected(f"{path}: {err.message}") from err
    scale = side / min(image.size)
    if scale < 1:
        size = (max(side, round(image.width * scale)), max(side, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).contiguous()


def read_model_picture(path: Path, spec: ImageSpec) -> Image.Image:
    """A file as the model sees it, size × size, through `blip/pixels.py` exactly as serving and evaluate."""
    try:
        return model_picture(path.read_bytes(), spec, MAX_FILE_BYTES, MAX_PIXELS)
    except ImageRejected as err:
        raise ImageRejected(f"{path}: {err.message}") from err


def picture_reader(split: Split, spec: ImageSpec) -> Callable[[Path], object]:
    """How a split's files are read: model pictures as serving makes them, or the augmentation's larger ones."""
    return partial(read_model_picture, spec=spec) if split.square else partial(read_picture, side=split.side)


def plain(spec: ImageSpec) -> Callable[[Image.Image, str, random.Random], torch.Tensor]:
    """A model picture to its normalised (3, size, size) tensor, by `blip/pixels.py` like every plain path."""
    return partial(_normalised, spec=spec)


def _normalised(picture: Image.Image, caption: str, rng: random.Random, spec: ImageSpec) -> torch.Tensor:
    return torch.from_numpy(pixel_values([picture], spec)[0])


class PictureStore(Protocol):
    """Pictures by index, as uint8 arrays (`picture_store.py`: in memory, on disk or decoded per access)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> np.ndarray: ...


Transform = Callable[[object, str, random.Random], torch.Tensor]


class CaptionPairs(Dataset):
    """Every (image, caption) pair of some examples. Items are keyed by (epoch, index) so a pair's random
    augmentation depends on the seed, the epoch and the index alone: the same on resume, in any worker."""

    def __init__(self, examples: Sequence[Example], store: PictureStore, transform: Transform, seed: int) -> None:
        self.pairs = [(i, caption) for i, example in enumerate(examples) for caption in example.captions]
        self.store, self.transform, self.seed = store, transform, seed

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, str]:
        epoch, index = key
        image_index, caption = self.pairs[index]
        rng = random.Random(f"{self.seed}:{epoch}:{index}")
        return self.transform(self.store[image_index], caption, rng), caption


class PlainPictures:
    """The pictures of a store through a transform without randomness, made on access: for captioning."""

    def __init__(self, store: PictureStore, transform: Transform) -> None:
        self.store, self.transform = store, transform

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.transform(self.store[index], "", random.Random(index))


class EpochSampler(Sampler):
    """(epoch, index) keys, in an order shuffled by (seed, epoch) or in index order. Set `epoch` before each
    pass: the sampler runs in the main process, so one DataLoader with persistent workers serves every epoch.

    With `replicas` processes (torchrun), each takes every `replicas`-th key of the same order from its `rank`
    on, so batch i of the ranks together is batch i of one process with `replicas` times the batch size. With
    `even` the order is padded from its start to a multiple of `replicas`, as DistributedSampler does, so every
    rank takes as many steps; without it (counting, not training) each key is seen once."""

    def __init__(self, size: int, epoch: int, seed: int, shuffle: bool = True, rank: int = 0, replicas: int = 1,
                 even: bool = True) -> None:
        self.size, self.epoch, self.seed, self.shuffle = size, epoch, seed, shuffle
        self.rank, self.replicas, self.even = rank, replicas, even

    def __len__(self) -> int:
        if self.even:
            return -(-self.size // self.replicas)
        return len(range(self.rank, self.size, self.replicas))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        if self.even and self.size % self.replicas:
            order += (order * self.replicas)[: self.replicas - self.size % self.replicas]
        return iter([(self.epoch, index) for index in order[self.rank::self.replicas]])


class CaptionCollator:
    """Stack pictures and tokenize "prompt + caption" for the decoder, as BLIP's `BLIP_Decoder` trains: the
    first token is the decoder's bos ([DEC], which decoding starts from) instead of the tokenizer's [CLS],
    and [DEC], the prompt and the padding are masked out of the targets, so the loss is the caption's alone.
    `max_tokens` counts the prompt's tokens too. The model shifts the targets by one itself."""

    def __init__(self, tokenizer, bos_token_id: int, max_tokens: int, prompt: str = "") -> None:
        self.tokenizer, self.bos_token_id, self.max_tokens, self.prompt = tokenizer, bos_token_id, max_tokens, prompt
        self.prompt_length = len(prompt_ids(tokenizer, bos_token_id, Decoding(prompt=prompt, max_length=max_tokens)))

    def __call__(self, batch: list[tuple[torch.Tensor, str]]) -> dict[str, torch.Tensor]:
        pictures = torch.stack([picture for picture, _ in batch])  # (B, 3, S, S)
        text = self.tokenizer(
            [self.prompt + caption for _, caption in batch],
            padding="longest",
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
        )
        input_ids = text.input_ids.clone()  # (B, T): [CLS] p1 .. pk w1 .. wn [SEP] [PAD] ..
        input_ids[:, 0] = self.bos_token_id  # [DEC] p1 .. pk w1 .. wn [SEP] [PAD] ..
        labels = input_ids.masked_fill(text.attention_mask == 0, IGNORE_INDEX)
        labels[:, : self.prompt_length] = IGNORE_INDEX  # -100 .. -100 w1 .. wn [SEP] -100 ..
        return {"pixel_values": pictures, "input_ids": input_ids, "attention_mask": text.attention_mask,
                "labels": labels}
