"""A shortened offline proof: a tiny BLIP from random weights learns the synthetic shapes; the metrics rise.

The full proof (`python -m captionbot.training.proof`: 1200 pictures, BLEU-4 >= 0.5 on the test split in
under 5 minutes) runs the same code with more data and epochs.
"""

from pathlib import Path

import pytest

from captionbot.training.evaluate import caption_examples, split_examples
from captionbot.training.history import read_history
from captionbot.training.metrics import score
from captionbot.training.proof import run_proof

SHORT_FLAGS = ("--base", "random:tiny", "--epochs", "3", "--batch-size", "16", "--lr", "3e-3", "--eval-every", "1")


@pytest.mark.slow
def test_training_from_random_weights_raises_the_metrics(tmp_path: Path) -> None:
    result = run_proof(tmp_path, images=320, train_flags=SHORT_FLAGS)
    evals = [r for r in read_history(tmp_path / "run" / "metrics.jsonl") if r["kind"] == "eval"]
    assert len(evals) == 3
    assert evals[-1]["CIDEr"] > evals[0]["CIDEr"]
    assert evals[-1]["BLEU-4"] > evals[0]["BLEU-4"]

    examples = split_examples(tmp_path / "data", "test", None)
    untrained = caption_examples(str(tmp_path / "run" / "random-init"), examples, batch_size=32, device="cpu")
    before = score({e.image: list(e.captions) for e in examples}, untrained, ("BLEU-4", "CIDEr"))
    after = result["scores"]
    assert after["BLEU-4"] > before["BLEU-4"] + 0.2
    assert after["CIDEr"] > before["CIDEr"] + 0.5
