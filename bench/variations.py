"""Three variations: the seed's three `generate` calls (the vision encoder runs three times) against one
vision pass and one decoding batch with a temperature per row.

    .venv/bin/python bench/variations.py [--repeat 5] [--device cuda]
"""

import argparse
from dataclasses import replace
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import base_checkpoint, median_ms  # noqa: E402

from captionbot.core.jobs import VARIATION_TEMPERATURES  # noqa: E402
from captionbot.blip.devices import pick_dtype  # noqa: E402
from captionbot.blip.decoding import variation_captions  # noqa: E402
from captionbot.blip.loading import ModelSource, load_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--max-words", type=int, default=20)
    args = parser.parse_args()
    device = torch.device(args.device)
    loaded = load_model("finetuned", ModelSource(str(base_checkpoint()), "bench"), device, pick_dtype(device))
    pixel_values = torch.randn(1, 3, loaded.spec.size, loaded.spec.size, device=device, dtype=loaded.dtype)
    length = loaded.decoding.max_length_for(args.max_words)  # the prompt's tokens included
    tokens = length - len(loaded.prompt)
    # min == max length in both, so random weights decode the same length either way: compare the work
    loaded = replace(loaded, decoding=replace(loaded.decoding, min_length=length, max_length=length))

    @torch.inference_mode()
    def three_calls():
        for temperature in VARIATION_TEMPERATURES:
            loaded.model.generate(pixel_values=pixel_values, do_sample=True, temperature=temperature, top_k=50, top_p=0.95, max_new_tokens=tokens, min_new_tokens=tokens)

    def one_pass():
        variation_captions(loaded, pixel_values, VARIATION_TEMPERATURES, args.max_words)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    base, ours = median_ms(three_calls, args.repeat, sync), median_ms(one_pass, args.repeat, sync)
    print(f"three variations, BLIP-base shape, {device}, {tokens} new tokens each, median of {args.repeat}")
    print(f"three generate calls: {base:8.0f} ms")
    print(f"one pass:             {ours:8.0f} ms")
    print(f"ratio: {ours / base:.2f}x")


if __name__ == "__main__":
    main()
