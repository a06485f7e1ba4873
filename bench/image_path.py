"""12 MP JPEG to the model's input tensor: BlipImageProcessor on the fully decoded image vs our fast path
(draft-mode decode to the smallest scale covering the input, one resize, normalisation in torch).

    .venv/bin/python bench/image_path.py [--repeat 20]
"""

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

sys.path.insert(0, str(Path(__file__).parent))
from common import median_ms, sample_jpeg  # noqa: E402

from captionbot.blip.pixels import ImageSpec, model_picture  # noqa: E402
from captionbot.blip.tensors import to_pixel_values  # noqa: E402

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def twelve_megapixel_jpeg() -> bytes:
    photo = Image.open(io.BytesIO(sample_jpeg(512))).resize((4000, 3000), Image.Resampling.BICUBIC)
    noise = np.random.default_rng(0).normal(0, 6, (3000, 4000, 3))
    photo = Image.fromarray(np.clip(np.asarray(photo, dtype=np.float32) + noise, 0, 255).astype(np.uint8))
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=92)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--size", type=int, default=384)
    args = parser.parse_args()
    data = twelve_megapixel_jpeg()
    processor = BlipImageProcessorPil(size={"height": args.size, "width": args.size}, image_mean=list(MEAN), image_std=list(STD))
    spec = ImageSpec(args.size, MEAN, STD)

    def baseline():
        return processor(images=Image.open(io.BytesIO(data)).convert("RGB"), return_tensors="pt")["pixel_values"]

    def ours():
        return to_pixel_values([model_picture(data, spec, 10**9, 10**9)], spec)

    assert baseline().shape == ours().shape
    base_ms, ours_ms = median_ms(baseline, args.repeat), median_ms(ours, args.repeat)
    print(f"12 MP JPEG ({len(data) / 1e6:.1f} MB) -> (1, 3, {args.size}, {args.size}), median of {args.repeat}")
    print(f"BlipImageProcessor on the full image: {base_ms:7.1f} ms")
    print(f"fast path (draft + one resize):       {ours_ms:7.1f} ms")
    print(f"speed-up: {base_ms / ours_ms:.1f}x")


if __name__ == "__main__":
    main()
