"""No fine-tuned model published: `caption` captions with the pretrained one and says so once; `--compare`
shows the pretrained caption and marks the fine-tuned one as not published, in text, JSON and CSV."""

import csv
import io
import json
from pathlib import Path

import pytest

from captionbot.cli import main

NOT_PUBLISHED = "No fine-tuned model is published in {} (MODEL_DIR); publish one with `captionbot publish RUN_DIR/best --activate`."


@pytest.fixture()
def empty_registry(settings_env, tiny_checkpoint: Path, tmp_path: Path) -> Path:
    registry = tmp_path / "registry"
    registry.mkdir()
    settings_env(PRETRAINED_MODEL=tiny_checkpoint, MODEL_DIR=registry)
    return registry


def test_caption_falls_back_to_the_pretrained_model_and_says_so_once(empty_registry, workdir, capsys) -> None:
    status = main(["caption", str(workdir / "photo.jpg"), str(workdir / "photo.jpg")])
    out, err = capsys.readouterr()
    assert status == 0
    assert len(out.splitlines()) == 2 and all(line.startswith(f"{workdir / 'photo.jpg'}: ") for line in out.splitlines())
    assert err.splitlines()[0] == f"captionbot caption: {NOT_PUBLISHED.format(empty_registry)} Captioning with the pretrained model."
    assert err.count("No fine-tuned model") == 1 and "admin" not in err


def test_compare_marks_the_fine_tuned_side_not_published(empty_registry, workdir, capsys) -> None:
    photo = str(workdir / "photo.jpg")
    assert main(["caption", "--compare", "--json", photo]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["results"]["pretrained"]["version"] == "tiny-pretrained0" and len(line["results"]["pretrained"]["captions"]) == 1
    assert line["results"]["finetuned"] == {"version": None, "captions": [], "error": {
        "code": "not_published", "message": NOT_PUBLISHED.format(empty_registry)}}

    assert main(["caption", "--compare", "--csv", photo]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert [row[1] for row in rows[1:]] == ["pretrained", "finetuned"]
    assert rows[2][2:] == ["", "", "", "not_published", NOT_PUBLISHED.format(empty_registry)]

    assert main(["caption", "--compare", photo]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == f"{photo}:" and text[1].startswith("  pretrained (tiny-pretrained0): ")
    assert text[2] == "  finetuned: not published"


def test_a_refused_fine_tuned_model_is_said_in_command_line_words(empty_registry, settings_env, workdir, tmp_path,
                                                                   capsys, caplog, tiny_checkpoint) -> None:
    from tests.fixtures.models import make_pickled_checkpoint

    pickled = make_pickled_checkpoint(tiny_checkpoint, tmp_path / "pickled")
    settings_env(PRETRAINED_MODEL=tiny_checkpoint, MODEL_DIR=empty_registry, FINETUNED_MODEL=pickled)
    assert main(["caption", str(workdir / "photo.jpg")]) == 1
    out, _ = capsys.readouterr()
    assert out == (f"{workdir / 'photo.jpg'}: refused (model_unavailable): That model is not loaded (refused or not "
                   "published); publish one with `captionbot publish RUN_DIR/best --activate`.\n")
    assert "no safetensors weights" in caplog.text  # why, logged (on stderr) by the check a worker runs


def test_through_the_queue_too(service_values, settings_env, workdir, tmp_path, capsys) -> None:
    """Workers that serve no fine-tuned model: `--queue --compare` is the pretrained caption and the mark."""
    from tests.fixtures.services import WorkerProcess, service_env, settings_from

    values = {**service_values, "QUEUE_NAME": f"unpublished-{tmp_path.name}"[:60], "MODEL_DIR": str(tmp_path / "none")}
    worker = WorkerProcess(settings_from(values), service_env(values), tmp_path / "worker.log").start()
    try:
        settings_env(**values)
        assert main(["caption", "--queue", "--compare", "--json", str(workdir / "photo.jpg")]) == 0
    finally:
        worker.stop()
    out, err = capsys.readouterr()
    line = json.loads(out)
    assert line["results"]["pretrained"]["captions"] and line["results"]["finetuned"]["error"]["code"] == "not_published"
    assert err == (f"captionbot caption: No fine-tuned model is published for the workers on the queue {values['QUEUE_NAME']}; "
                   "publish one with `captionbot publish RUN_DIR/best --activate`. Captioning with the pretrained model.\n")
