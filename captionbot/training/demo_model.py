"""A demo captioner made here, offline: for the product's demo when the Hub model cannot be fetched.

It knows only the synthetic shapes (coloured circles, squares, triangles and diamonds on plain
backgrounds): trained from random weights in under a minute on two CPU cores. Label it a demo model.
"""

import shutil
import tempfile
from pathlib import Path

from captionbot.training import train
from captionbot.training.checkpoint import BEST, swap_in
from captionbot.training.synthetic import generate

DEMO_IMAGES = 480
DEMO_FLAGS = ("--base", "random:tiny", "--epochs", "6", "--batch-size", "32", "--lr", "2e-3",
              "--eval-every", "6", "--keep-checkpoints", "1")


def train_demo_model(output_dir: Path) -> Path:
    """Train the demo model and write it to `output_dir` as a save_pretrained folder (with its processor,
    training config and metrics); the folder appears whole or not at all. Returns `output_dir`."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".demo-model.", dir=output_dir.parent) as work:
        data = generate(Path(work) / "data", DEMO_IMAGES)
        run = Path(work) / "run"
        train.main(["--data", str(data), "--output", str(run), *DEMO_FLAGS])
        staging = Path(work) / "model"
        shutil.copytree(run / BEST, staging)
        swap_in(staging, output_dir)
    return output_dir
