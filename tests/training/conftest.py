"""Data sets in each Flickr8k layout, written by the tests themselves, and a short tiny training run."""

import json
import os
from pathlib import Path

import pytest
from PIL import Image

os.environ["HF_HUB_OFFLINE"] = "1"

COLOURS = {"red": (200, 30, 30), "blue": (30, 60, 200), "green": (30, 160, 40), "yellow": (240, 210, 30)}


def write_jpeg(path: Path, colour: str = "red", size: tuple[int, int] = (40, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, COLOURS[colour]).save(path, quality=90)
    return path


def image_names(count: int) -> list[str]:
    return [f"{1000000 + i}_{i:04x}ab.jpg" for i in range(count)]


def captions_of(name: str) -> list[str]:
    index = int(name.split("_")[0]) - 1000000
    colour = list(COLOURS)[index % len(COLOURS)]
    return [f"A {colour} square , number {index} .", f"a plain {colour} picture", f"{colour}, flat and plain"]


def write_original(root: Path, count: int = 8, image_dir: str = "Flicker8k_Dataset") -> Path:
    """The release: token file with the bogus `.jpg.1` id, a caption of a missing file, split lists."""
    names = image_names(count)
    for name in names:
        write_jpeg(root / image_dir / name)
    lines = [f"{name}#{k}\t{caption}" for name in names for k, caption in enumerate(captions_of(name))]
    lines += [f"{names[0]}.1#0\tA duplicate under a bogus id .", "missing_0000.jpg#0\tA picture nobody kept ."]
    (root / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    splits = {"trainImages": names[:-3], "devImages": names[-3:-2], "testImages": names[-2:-1]}  # last: no split
    for key, listed in splits.items():
        (root / f"Flickr_8k.{key}.txt").write_text("".join(n + "\n" for n in listed), encoding="utf-8")
    return root


def csv_field(caption: str) -> str:
    """Quoted where it holds a comma, as Kaggle's captions.txt does."""
    return f'"{caption}"' if "," in caption else caption


def write_kaggle(root: Path, count: int = 16) -> Path:
    names = image_names(count)
    for name in names:
        write_jpeg(root / "Images" / name)
    rows = ["image,caption"] + [f"{name},{csv_field(c)}" for name in names for c in captions_of(name)]
    rows.append("missing_0000.jpg,A picture nobody kept")
    (root / "captions.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def write_karpathy(root: Path) -> Path:
    names = image_names(6)
    for name in names[:-1]:  # the last one is missing on disk
        write_jpeg(root / "Flicker8k_Dataset" / name)
    splits = ["train", "restval", "val", "test", "test", "train"]
    images = [{"filename": name, "split": split, "imgid": i,
               "sentences": [{"raw": c, "tokens": c.split()} for c in captions_of(name)]}
              for i, (name, split) in enumerate(zip(names, splits))]
    (root / "dataset_flickr8k.json").write_text(json.dumps({"images": images, "dataset": "flickr8k"}), encoding="utf-8")
    return root


def write_karpathy_coco(root: Path, under: str = ".") -> Path:
    """Karpathy's dataset_coco.json: images in train2014/ and val2014/ (under `under`), the `restval` split,
    one image with seven captions, one listed but missing."""
    entries = [("train2014", "train"), ("val2014", "restval"), ("val2014", "val"), ("val2014", "test"),
               ("train2014", "train"), ("val2014", "test")]
    images = []
    for i, (folder, split) in enumerate(entries):
        name = f"COCO_{folder}_{i:012d}.jpg"
        if i != 5:
            write_jpeg(root / under / folder / name, list(COLOURS)[i % 4])
        sentences = captions_of(image_names(6)[i]) + (["one more caption", "and another", "a seventh"] if i == 1 else [])
        images.append({"filepath": folder, "filename": name, "split": split, "cocoid": i,
                       "sentences": [{"raw": c} for c in sentences]})
    (root / "dataset_coco.json").write_text(json.dumps({"images": images, "dataset": "coco"}), encoding="utf-8")
    return root


def write_karpathy_flickr30k(root: Path, image_dir: str = "flickr30k-images") -> Path:
    names = [f"{1000092795 + i}.jpg" for i in range(6)]
    for name in names:
        write_jpeg(root / image_dir / name)
    splits = ["train", "train", "val", "test", "train", "train"]
    images = [{"filename": name, "split": split, "sentences": [{"raw": c} for c in captions_of(image_names(6)[i])]}
              for i, (name, split) in enumerate(zip(names, splits))]
    (root / "dataset_flickr30k.json").write_text(json.dumps({"images": images, "dataset": "flickr30k"}),
                                                 encoding="utf-8")
    return root


def write_pipe(root: Path, count: int = 10, header: bool = True) -> Path:
    names = image_names(count)
    for name in names:
        write_jpeg(root / "images" / name)
    lines = (["image|caption"] if header else []) + [f"{name}|{c}" for name in names for c in captions_of(name)]
    (root / "captions.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def shapes_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic shapes set in the original layout: 48 pictures, split 36/6/6."""
    from captionbot.training.synthetic import generate

    return generate(tmp_path_factory.mktemp("shapes") / "data", images=48, size=(80, 60))


TINY_RUN_FLAGS = ["--base", "random:tiny", "--epochs", "3", "--batch-size", "16", "--lr", "2e-3",
                  "--save-every", "1", "--keep-checkpoints", "3", "--log-every", "2"]


@pytest.fixture(scope="session")
def tiny_run(shapes_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three epochs of a tiny BLIP from random weights, through `main(argv)`, a checkpoint each epoch."""
    from captionbot.training.train import main

    output = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["--data", str(shapes_data), "--output", str(output), *TINY_RUN_FLAGS]) == 0
    return output
