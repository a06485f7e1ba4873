"""The scorer gives pycocoevalcap's own numbers; without Java it says so and leaves METEOR out."""

import json
import logging
from pathlib import Path

import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from captionbot.training import metrics
from captionbot.training.evaluate import main as evaluate_main
from captionbot.training.metrics import METRICS, score, simple_tokenize, tokenize
from tests.training.conftest import captions_of, image_names, write_kaggle

REFERENCES = {
    "1.jpg": ["A child in a pink dress is climbing up a set of stairs in an entry way .",
              "A girl going into a wooden building .", "A little girl climbing into a wooden playhouse ."],
    "2.jpg": ["A black dog and a spotted dog are fighting",
              "Two dogs of different breeds looking at each other on the road ."],
    "3.jpg": ["A man in a t-shirt stands on a rock , looking at the water .", "A man's dog isn't wet (yet) ."],
    "4.jpg": ["Two girls play on the grass .", "Children are playing outside ."],
}
PREDICTIONS = {"1.jpg": "a little girl climbing into a wooden building", "2.jpg": "two dogs are fighting on the road",
               "3.jpg": "a man stands on a rock looking at the water", "4.jpg": "two girls play outside"}


def pycocoevalcap_scores() -> dict[str, float]:
    """What pycocoevalcap's COCOEvalCap.evaluate computes, step by step (SPICE left out: it needs a download)."""
    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize({k: [{"caption": c} for c in v] for k, v in REFERENCES.items()})
    res = tokenizer.tokenize({k: [{"caption": v}] for k, v in PREDICTIONS.items()})
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    meteor, _ = Meteor().compute_score(gts, res)
    rouge, _ = Rouge().compute_score(gts, res)
    cider, _ = Cider().compute_score(gts, res)
    return dict(zip(METRICS, [*bleu, meteor, rouge, cider]))


@pytest.mark.slow
def test_scores_equal_pycocoevalcaps_own() -> None:
    ours = score(REFERENCES, PREDICTIONS)
    theirs = pycocoevalcap_scores()
    assert list(ours) == list(METRICS)
    assert ours == pytest.approx(theirs, abs=1e-12)
    assert 0 < ours["BLEU-4"] < 1 and ours["CIDEr"] > 0


def test_plain_python_tokenizer_matches_the_ptb_tokenizer_on_captions() -> None:
    captions = [c for values in REFERENCES.values() for c in values] + ["Two  men; one, e.g. U.S.A. can't"]
    ptb = tokenize({str(i): [c] for i, c in enumerate(captions)}, use_java=True)
    assert [simple_tokenize(c) for c in captions] == [ptb[str(i)][0] for i in range(len(captions))]


def test_without_java_a_warning_and_no_meteor(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    with_java = score(REFERENCES, PREDICTIONS, metrics=("BLEU-4", "CIDEr"))
    monkeypatch.setattr(metrics.shutil, "which", lambda name: None)
    with caplog.at_level(logging.WARNING):
        without = score(REFERENCES, PREDICTIONS, metrics=("BLEU-4", "METEOR", "CIDEr"))
    assert "Java is not on PATH" in caplog.text and "METEOR is left out" in caplog.text
    assert without["METEOR"] is None
    assert without["BLEU-4"] == pytest.approx(with_java["BLEU-4"])
    assert without["CIDEr"] == pytest.approx(with_java["CIDEr"])


def test_every_prediction_needs_references() -> None:
    with pytest.raises(ValueError, match="no references"):
        score(REFERENCES, {**PREDICTIONS, "5.jpg": "a cat"})


def test_evaluate_scores_coco_results_against_a_kaggle_layout(tmp_path: Path, capsys) -> None:
    write_kaggle(tmp_path / "data", count=4)
    predictions = [{"image_id": name, "caption": captions_of(name)[1]} for name in image_names(4)]
    (tmp_path / "preds.json").write_text(json.dumps(predictions))
    argv = ["--predictions", str(tmp_path / "preds.json"), "--references", str(tmp_path / "data"), "--json"]
    assert evaluate_main(argv) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(printed) == list(METRICS)
    assert printed["BLEU-4"] == pytest.approx(1.0)


def test_evaluate_refuses_mixed_flags(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        evaluate_main(["--predictions", "p.json", "--model", "m", "--references", "r"])
    assert exit_info.value.code == 2
    assert "--predictions" in capsys.readouterr().err
