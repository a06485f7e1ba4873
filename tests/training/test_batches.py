"""What a training batch holds: pictures as the processor makes them, decoder inputs as BLIP decodes."""

import random
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from captionbot.training.augment import Augment
from captionbot.training.data import load_data
from captionbot.training.dataset import (
    IGNORE_INDEX,
    CaptionCollator,
    CaptionPairs,
    EpochSampler,
    plain,
    read_picture,
)
from captionbot.training.picture_store import Decoded, in_memory
from captionbot.blip.loading import load_processor
from captionbot.blip.pixels import ImageSpec
from captionbot.training.schedule import lr_factor


@pytest.fixture(scope="module")
def processor(tiny_checkpoint: Path):
    return load_processor(tiny_checkpoint)


def transform_of(processor, augment: bool = False):
    spec = ImageSpec.from_processor(processor.image_processor)
    return Augment(spec) if augment else plain(spec)


@pytest.mark.parametrize("prompt", ["a picture of ", ""])
def test_collator_starts_with_dec_and_the_prompt_and_masks_exactly_the_prompt_and_padding(processor, prompt) -> None:
    tokenizer = processor.tokenizer
    bos = tokenizer.convert_tokens_to_ids("[DEC]")
    collate = CaptionCollator(tokenizer, bos, max_tokens=32, prompt=prompt)
    picture = torch.zeros(3, 64, 64)
    captions = ["a red circle on a blue background", "a square"]
    batch = collate([(picture, captions[0]), (picture, captions[1])])
    prompt_pieces = tokenizer(prompt, add_special_tokens=False).input_ids
    assert len(prompt_pieces) == (3 if prompt else 0)  # "a picture of": three words of the vocabulary
    head = [bos, *prompt_pieces]
    assert batch["pixel_values"].shape == (2, 3, 64, 64)
    assert [row[: len(head)] for row in batch["input_ids"].tolist()] == [head, head]
    for row, caption in enumerate(captions):
        labels, input_ids = batch["labels"][row].tolist(), batch["input_ids"][row].tolist()
        real = int(batch["attention_mask"][row].sum())
        caption_ids = tokenizer(caption, add_special_tokens=False).input_ids + [tokenizer.sep_token_id]
        assert labels[: len(head)] == [IGNORE_INDEX] * len(head)  # [DEC] and the prompt: not scored
        assert labels[len(head) : real] == caption_ids == input_ids[len(head) : real]  # the caption: scored
        assert labels[real:] == [IGNORE_INDEX] * (len(labels) - real)  # padding: not scored
    assert int(batch["attention_mask"][1].sum()) < batch["labels"].shape[1]  # the short caption was padded


def test_collator_truncates_to_max_tokens(processor) -> None:
    collate = CaptionCollator(processor.tokenizer, 5, max_tokens=6)
    batch = collate([(torch.zeros(3, 8, 8), "a red circle on a blue background with a green square")])
    assert batch["input_ids"].shape[1] == 6


def test_augmentation_without_randomness_is_close_to_the_image_processor(processor) -> None:
    picture = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    theirs = processor.image_processor(images=Image.fromarray(picture), return_tensors="pt").pixel_values[0]
    class NoChange(random.Random):  # the whole picture, no flip, jitter factors of 1
        def uniform(self, a, b):
            return 1.0 if a < 1 < b else b

        def random(self):
            return 1.0

        def randint(self, a, b):
            return a

    ours = transform_of(processor, augment=True)(torch.from_numpy(picture).permute(2, 0, 1), "", NoChange())
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().mean() < 0.1  # bicubic in torch vs Pillow: close, not equal


def test_no_flip_for_captions_that_say_left_or_right(processor) -> None:
    picture = torch.zeros(3, 64, 64, dtype=torch.uint8)
    picture[:, :, :32] = 255  # left half white
    transform = transform_of(processor, augment=True)
    for seed in range(20):
        out = transform(picture, "a white square on the left", random.Random(seed))
        assert out[:, :, :8].mean() > out[:, :, -8:].mean()
    flipped = [transform(picture, "a white square", random.Random(s))[:, :, :8].mean() < 0 for s in range(20)]
    assert any(flipped) and not all(flipped)


def test_a_pairs_augmentation_depends_on_seed_epoch_and_index_only(shapes_data: Path, processor) -> None:
    examples = load_data(shapes_data).splits["val"]
    store = Decoded([e.path for e in examples], partial(read_picture, side=64))
    pairs = CaptionPairs(examples, store, transform_of(processor, augment=True), seed=3)
    assert len(pairs) == 5 * len(examples)
    assert torch.equal(pairs[(2, 7)][0], pairs[(2, 7)][0])
    assert not torch.equal(pairs[(2, 7)][0], pairs[(3, 7)][0])
    assert list(EpochSampler(10, epoch=4, seed=1)) == list(EpochSampler(10, epoch=4, seed=1))
    assert list(EpochSampler(10, epoch=4, seed=1)) != list(EpochSampler(10, epoch=5, seed=1))


def test_cached_and_uncached_pictures_are_the_same(shapes_data: Path) -> None:
    paths = [e.path for e in load_data(shapes_data).splits["test"]]
    read = partial(read_picture, side=48)
    cached, uncached = in_memory(paths, read), Decoded(paths, read)
    assert all(np.array_equal(cached[i], uncached[i]) for i in range(len(paths)))
    assert min(cached[0].shape[1:]) == 48


def test_schedule_warms_up_linearly_then_decays_to_zero() -> None:
    factors = [lr_factor(step, warmup_steps=10, total_steps=100) for step in range(101)]
    assert factors[:10] == pytest.approx([(s + 1) / 11 for s in range(10)])
    assert factors[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
    assert factors[100] == 0.0
