"""After `captionbot demo`, offline: README's next commands find the demo's models with no settings, say in
one line that they used them, and without them say in one sentence why nothing can be captioned."""

import csv
import io
import json
import shutil
from pathlib import Path

from tests.cli.conftest import captionbot


def test_caption_after_the_demo_uses_its_models_and_says_so(after_demo: Path, user_env: dict[str, str]) -> None:
    ran = captionbot(after_demo, user_env, "caption", "photo.jpg")
    assert ran.status == 0, ran.err
    assert ran.out.startswith("photo.jpg: ") and len(ran.out.splitlines()) == 1
    assert ran.err.splitlines() == [
        "captionbot caption: models: fine-tuned v1 from .demo/models (demo model); the demo's models caption "
        "coloured shapes, not photos (set PRETRAINED_MODEL and MODEL_DIR for others)"]


def test_compare_json_csv_and_a_folder_after_the_demo(after_demo: Path, user_env: dict[str, str]) -> None:
    (after_demo / "more").mkdir()
    shutil.copy(after_demo / "photo.jpg", after_demo / "more" / "second.jpg")
    ran = captionbot(after_demo, user_env, "caption", "--compare", "--variations", "--json", "photo.jpg", "more")
    assert ran.status == 0, ran.err
    lines = [json.loads(line) for line in ran.out.splitlines()]
    assert [line["image"] for line in lines] == ["photo.jpg", "more/second.jpg"]
    for line in lines:
        assert line["results"]["pretrained"]["version"] == "demo-untrained"
        assert line["results"]["finetuned"]["version"] == "v1"
        assert all(len(r["captions"]) == 3 for r in line["results"].values())
    (said,) = ran.err.splitlines()
    assert "pretrained .demo/demo-untrained (demo model)" in said and "fine-tuned v1 from .demo/models (demo model)" in said

    ran = captionbot(after_demo, user_env, "caption", "--csv", "--model", "pretrained", "more")
    rows = list(csv.reader(io.StringIO(ran.out)))
    assert ran.status == 0 and [row[:3] for row in rows[1:]] == [["more/second.jpg", "pretrained", "demo-untrained"]]


def test_offline_without_the_demo_one_sentence_and_no_retries(workdir: Path, user_env: dict[str, str]) -> None:
    ran = captionbot(workdir, user_env, "caption", "--model", "pretrained", "photo.jpg")
    assert ran.status == 2 and ran.out == ""
    assert ran.err.splitlines() == [
        "captionbot caption: error: the pretrained model Salesforce/blip-image-captioning-base is not on this "
        "machine and the Hub cannot be reached (offline?); run `captionbot demo` once to make demo models here, "
        "or set PRETRAINED_MODEL to a model folder"]


def test_settings_win_over_the_demo(after_demo: Path, user_env: dict[str, str], tiny_checkpoint: Path) -> None:
    ran = captionbot(after_demo, {**user_env, "PRETRAINED_MODEL": str(tiny_checkpoint)}, "caption", "--model",
                     "pretrained", "photo.jpg")
    assert ran.status == 0, ran.err
    assert ran.err.splitlines() == [f"captionbot caption: models: pretrained {tiny_checkpoint}"]
