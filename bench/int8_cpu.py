"""CPU workers: CPU_INT8 (torchao's dynamic int8 in the vision encoder) against fp32, same run, same inputs.

Speed on a BLIP-base-shaped model (random weights): one caption, and the vision pass alone, each as a worker
loads the model (serving decoder); beside them the whole model in int8 (vision encoder and text decoder), the
choice CPU_INT8 does not make, and why. Then whether captions stay sensible on the demo model trained here on
synthetic shapes (same caption as fp32 on how many test images).

    .venv/bin/python bench/int8_cpu.py [--repeat 3]
"""

import argparse
import sys
from dataclasses import replace
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import CACHE, base_checkpoint, median_ms  # noqa: E402

from captionbot.blip.decoding import beam_captions  # noqa: E402
from captionbot.blip.loading import ModelSource, load_model  # noqa: E402
from captionbot.blip.pixels import model_picture  # noqa: E402
from captionbot.blip.tensors import to_pixel_values  # noqa: E402

LENGTH = 36  # decoder tokens, the prompt's included: 32 new ones after BLIP's four-token prompt


def quantized(source: ModelSource):
    """As a worker with CPU_INT8=true loads it."""
    return load_model("finetuned", source, torch.device("cpu"), torch.float32, cpu_int8=True)


def whole_model_int8(source: ModelSource):
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    loaded = load_model("finetuned", source, torch.device("cpu"), torch.float32)
    quantize_(loaded.model, Int8DynamicActivationInt8WeightConfig())
    return loaded


def demo_model() -> Path:
    from captionbot.training.demo_model import train_demo_model

    path = CACHE / "demo-shapes"
    return path if (path / "config.json").is_file() else train_demo_model(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cpu = torch.device("cpu")

    base_source = ModelSource(str(base_checkpoint()), "base")
    base = load_model("finetuned", base_source, cpu, torch.float32)
    pixels = torch.randn(1, 3, base.spec.size, base.spec.size)
    # Equal lengths (random weights stop anywhere): compare the work per token, not where each stops.
    fixed = replace(base.decoding, min_length=LENGTH, max_length=LENGTH)
    makers = {"fp32": lambda: base, "CPU_INT8 (vision int8)": lambda: quantized(base_source),
              "whole model int8": lambda: whole_model_int8(base_source)}
    print(f"BLIP-base shape, beam 3, {LENGTH - len(base.prompt)} new tokens, CPU ({torch.get_num_threads()} "
          f"threads), median of {args.repeat}; ratios: fp32's time / this time")
    baseline = {}
    for name, make in makers.items():
        loaded = replace(make(), decoding=fixed)
        caption_ms = median_ms(lambda: beam_captions(loaded, pixels, beams=3, max_words=20), args.repeat)
        with torch.inference_mode():
            vision_ms = median_ms(lambda: loaded.model.vision_model(pixel_values=pixels), args.repeat)
        baseline = baseline or {"caption": caption_ms, "vision": vision_ms}
        print(f"{name:24s} caption {caption_ms:6.0f} ms ({baseline['caption'] / caption_ms:.2f}x)   "
              f"vision pass {vision_ms:5.0f} ms ({baseline['vision'] / vision_ms:.2f}x)")
    del loaded

    from captionbot.training.synthetic import generate

    demo_source = ModelSource(str(demo_model()), "demo")
    demo, demo_int8 = load_model("finetuned", demo_source, cpu, torch.float32), quantized(demo_source)
    with tempfile.TemporaryDirectory() as scratch:
        data = generate(Path(scratch) / "shapes", 60)
        images = sorted(data.rglob("*.jpg"))[:60]
        pictures = [model_picture(p.read_bytes(), demo.spec, 10**8, 10**8) for p in images]
    batch = to_pixel_values(pictures, demo.spec)
    full, small = beam_captions(demo, batch, 3, 20), beam_captions(demo_int8, batch, 3, 20)
    same = sum(a == b for a, b in zip(full, small))
    print(f"demo model (trained on shapes): int8 gives the fp32 caption on {same}/{len(full)} images")
    for a, b in list(zip(full, small))[:3]:
        print(f"  fp32: {a!r}\n  int8: {b!r}")


if __name__ == "__main__":
    main()
