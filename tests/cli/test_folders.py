"""Folders: one with no images, and files in a folder that are not images, are reported one line each on
stderr and the exit status says so; hidden files are left alone."""

from pathlib import Path

import pytest
from PIL import Image

from captionbot.cli import main


@pytest.fixture()
def models_env(settings_env, tiny_checkpoint: Path, model_dir: Path) -> None:
    settings_env(PRETRAINED_MODEL=tiny_checkpoint, MODEL_DIR=model_dir)


def test_an_empty_folder_is_said_and_fails(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["caption", str(tmp_path / "empty")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == f"captionbot caption: {tmp_path / 'empty'}: no images in this folder\n"


def test_files_that_are_not_images_are_named_and_the_images_captioned(models_env, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "mixed"
    (folder / ".git").mkdir(parents=True)
    Image.new("RGB", (80, 60), (10, 200, 10)).save(folder / "green.png")
    (folder / "drawing.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (folder / "notes.txt").write_text("not an image")
    (folder / ".DS_Store").write_bytes(b"\0")
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main")
    assert main(["caption", "--json", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert [line.split('"')[3] for line in out.splitlines()] == [str(folder / "green.png")]
    said = "skipped, not an image (JPEG, PNG, WebP, GIF or BMP)"
    assert err.splitlines()[:2] == [f"captionbot caption: {folder / 'drawing.svg'}: {said}",
                                    f"captionbot caption: {folder / 'notes.txt'}: {said}"]
    assert ".DS_Store" not in err and "HEAD" not in err
