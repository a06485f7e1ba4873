"""The fast image path matches BlipImageProcessor where no reduction is needed, and keeps the shape always."""

import io

import numpy as np
import torch
from PIL import Image
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

from captionbot.blip.pixels import ImageSpec, model_picture as load_picture
from captionbot.blip.tensors import to_pixel_values

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def photo_like(size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(0)
    gradient = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    noise = rng.normal(0, 20, gradient.shape)
    return Image.fromarray(np.clip(gradient + noise, 0, 255).astype(np.uint8))


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_matches_the_blip_processor_on_images_needing_no_reduction():
    spec = ImageSpec(64, MEAN, STD)
    image = photo_like((96, 80))
    ours = to_pixel_values([load_picture(png_bytes(image), spec, 10**8, 10**8)], spec)
    processor = BlipImageProcessorPil(size={"height": 64, "width": 64}, image_mean=list(MEAN), image_std=list(STD))
    theirs = torch.as_tensor(np.asarray(processor(images=[image], return_tensors="np")["pixel_values"]))
    assert ours.shape == theirs.shape == (1, 3, 64, 64)
    assert torch.allclose(ours, theirs, atol=0.05)


def test_large_jpegs_give_the_same_shape():
    spec = ImageSpec(384, MEAN, STD)
    out = io.BytesIO()
    photo_like((4000, 3000)).save(out, format="JPEG")
    pictures = [load_picture(out.getvalue(), spec, 10**9, 10**9), load_picture(png_bytes(photo_like((50, 900))), spec, 10**9, 10**9)]
    assert to_pixel_values(pictures, spec).shape == (2, 3, 384, 384)
