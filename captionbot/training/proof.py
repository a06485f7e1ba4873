"""The offline proof that training works: a tiny BLIP from random weights, trained on the CPU on the
synthetic shapes set, reaches BLEU-4 >= 0.5 on its test split.

    python -m captionbot.training.proof --output runs/proof

It runs what these commands run, through the same code, and times the whole:

    python -m captionbot.training.synthetic runs/proof/data --images 1200
    captionbot train --data runs/proof/data --output runs/proof/run --base random:tiny \\
        --epochs 6 --batch-size 32 --lr 2e-3 --eval-every 2
    captionbot evaluate --model runs/proof/run/best --data runs/proof/data --split test

With --prompt TEXT the training runs with that prompt (default: BLIP's "a picture of "; "" for none).
"""

import argparse
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from transformers.utils import logging as transformers_logging

from captionbot.training import train
from captionbot.training.evaluate import caption_examples, split_examples
from captionbot.training.metrics import score
from captionbot.training.synthetic import generate

IMAGES = 1200
TRAIN_FLAGS = ("--base", "random:tiny", "--epochs", "6", "--batch-size", "32", "--lr", "2e-3", "--eval-every", "2")
TARGET_BLEU_4 = 0.5
TIME_LIMIT_S = 300


def run_proof(output: Path, images: int = IMAGES, train_flags: Sequence[str] = TRAIN_FLAGS) -> dict:
    """Generate, train, caption the test split with best/ (as it records: its prompt) and score it; scores and
    seconds per phase."""
    started = time.perf_counter()
    data = generate(output / "data", images)
    generated = time.perf_counter()
    train.main(["--data", str(data), "--output", str(output / "run"), *train_flags])
    trained = time.perf_counter()
    examples = split_examples(data, "test", None)
    predictions = caption_examples(str(output / "run" / "best"), examples, batch_size=32, device="cpu")
    scores = score({e.image: list(e.captions) for e in examples}, predictions)
    done = time.perf_counter()
    seconds = {"data": generated - started, "training": trained - generated, "test": done - trained,
               "total": done - started}
    return {"scores": scores, "seconds": seconds, "test_images": len(examples)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m captionbot.training.proof", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=Path("runs/proof"), help="folder for data and run")
    parser.add_argument("--prompt", help="train with this prompt (default: the recipe's, BLIP's \"a picture of \")")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    transformers_logging.disable_progress_bar()
    flags = TRAIN_FLAGS if args.prompt is None else (*TRAIN_FLAGS, "--prompt", args.prompt)
    result = run_proof(args.output, train_flags=flags)
    (args.output / "proof.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    bleu_4, total = result["scores"]["BLEU-4"], result["seconds"]["total"]
    passed = bleu_4 >= TARGET_BLEU_4 and total < TIME_LIMIT_S
    prompt = json.loads((args.output / "run" / "best" / "training_config.json").read_text())["decoding"]["prompt"]
    print(f"Prompt {prompt!r}: test BLEU-4 {bleu_4:.3f} (target {TARGET_BLEU_4}), CIDEr {result['scores']['CIDEr']:.3f}, on "
          f"{result['test_images']} test images; {total:.0f} s in all (limit {TIME_LIMIT_S} s): "
          f"{'passed' if passed else 'FAILED'}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
