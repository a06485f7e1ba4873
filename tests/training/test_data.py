"""Each Flickr8k layout and its quirks, `check-data`, and the split by image."""

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from captionbot.training.cli import add_commands
from captionbot.training.data import DataError, clean_caption, load_data, read_captions
from captionbot.training.splits import split_by_image
from tests.training.conftest import (
    image_names,
    write_jpeg,
    write_kaggle,
    write_karpathy,
    write_karpathy_coco,
    write_karpathy_flickr30k,
    write_original,
    write_pipe,
)


def reasons(data) -> dict[str, str]:
    return {s.entry: s.reason for s in data.skipped}


def test_original_release_keeps_its_splits_and_skips_its_quirks(tmp_path: Path) -> None:
    data = load_data(write_original(tmp_path, count=8))
    names = image_names(8)
    assert data.format == "original"
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [5, 1, 1]
    assert data.splits["val"][0].image == names[5]
    assert data.splits["train"][0].captions == ("A red square , number 0", "a plain red picture", "red, flat and plain")
    skipped = reasons(data)
    assert "not an image file name" in skipped[f"{names[0]}.1#0"] and "Flickr8k release" in skipped[f"{names[0]}.1#0"]
    assert "missing" in skipped["missing_0000.jpg"]
    assert skipped[names[7]] == "in no split list"
    assert len(data.skipped) == 3


@pytest.mark.parametrize("image_dir", ["Images", "Flickr8k_Dataset/Flicker8k_Dataset"])
def test_original_release_finds_its_images_in_other_folders(tmp_path: Path, image_dir: str) -> None:
    data = load_data(write_original(tmp_path, count=8, image_dir=image_dir))
    assert sum(len(examples) for examples in data.splits.values()) == 7


def test_kaggle_csv_reads_quoted_commas_and_splits_by_image(tmp_path: Path) -> None:
    data = load_data(write_kaggle(tmp_path, count=16))
    assert data.format == "kaggle"
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [12, 2, 2]
    examples = data.splits["train"] + data.splits["val"] + data.splits["test"]
    example = next(e for e in examples if e.image == image_names(16)[0])
    assert example.captions == ("A red square , number 0", "a plain red picture", "red, flat and plain")
    assert list(reasons(data)) == ["missing_0000.jpg"]


def test_kaggle_csv_needs_its_header(tmp_path: Path) -> None:
    write_kaggle(tmp_path)
    text = (tmp_path / "captions.txt").read_text().replace("image,caption\n", "", 1)
    (tmp_path / "captions.txt").write_text("name,text\n" + text)
    with pytest.raises(DataError):
        load_data(tmp_path)


def test_karpathy_json_takes_each_images_split_and_restval_trains(tmp_path: Path) -> None:
    data = load_data(write_karpathy(tmp_path))
    names = image_names(6)
    assert data.format == "karpathy"
    assert [e.image for e in data.splits["train"]] == names[:2]
    assert [e.image for e in data.splits["val"]] == [names[2]]
    assert [e.image for e in data.splits["test"]] == names[3:5]
    assert list(reasons(data)) == [names[5]]


@pytest.mark.parametrize("under", [".", "images"])
def test_karpathy_coco_reads_filepath_folders_restval_and_every_caption(tmp_path: Path, under: str) -> None:
    data = load_data(write_karpathy_coco(tmp_path, under))
    assert data.format == "karpathy-coco"
    train = {e.image: e for e in data.splits["train"]}
    assert list(train) == ["train2014/COCO_train2014_000000000000.jpg", "val2014/COCO_val2014_000000000001.jpg",
                           "train2014/COCO_train2014_000000000004.jpg"]  # restval trains
    assert len(train["val2014/COCO_val2014_000000000001.jpg"].captions) == 6  # more than five: all kept
    assert train["train2014/COCO_train2014_000000000000.jpg"].path == tmp_path / under / "train2014" / (
        "COCO_train2014_000000000000.jpg")
    assert [e.image for e in data.splits["val"]] == ["val2014/COCO_val2014_000000000002.jpg"]
    assert [e.image for e in data.splits["test"]] == ["val2014/COCO_val2014_000000000003.jpg"]
    assert list(reasons(data)) == ["val2014/COCO_val2014_000000000005.jpg"]


@pytest.mark.parametrize("image_dir", ["flickr30k-images", "Images"])
def test_karpathy_flickr30k_finds_its_images(tmp_path: Path, image_dir: str) -> None:
    data = load_data(write_karpathy_flickr30k(tmp_path, image_dir))
    assert data.format == "karpathy-flickr30k"
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [4, 1, 1]
    assert data.splits["test"][0].path == tmp_path / image_dir / "1000092798.jpg"
    assert data.skipped == []


@pytest.mark.parametrize("write", [write_karpathy_coco, write_karpathy_flickr30k])
def test_check_data_and_evaluate_read_the_karpathy_files(tmp_path: Path, write, capsys) -> None:
    from captionbot.cli import main as cli

    root = write(tmp_path / "data")
    assert cli(["check-data", str(root), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["splits"]["val"] == {"images": 1, "captions": 3}
    test = load_data(root).splits["test"][0]
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps([{"image_id": test.image, "caption": test.captions[0]}]))
    assert cli(["evaluate", "--predictions", str(predictions), "--references", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["BLEU-1"] > 0.99


@pytest.mark.parametrize("header", [True, False])
def test_pipe_file_of_image_and_caption(tmp_path: Path, header: bool) -> None:
    data = load_data(write_pipe(tmp_path, count=10, header=header))
    assert data.format == "pipe"
    assert sum(len(e.captions) for s in data.splits.values() for e in s) == 30
    assert data.skipped == []


def test_pipe_file_in_flickr30k_shape(tmp_path: Path) -> None:
    names = image_names(3)
    for name in names:
        write_jpeg(tmp_path / "images" / name)
    lines = ["image_name| comment_number| comment"]
    lines += [f"{n}| {k}| A dog | with a bar {k}" for n in names for k in range(2)]
    (tmp_path / "results.csv").write_text("\n".join(lines) + "\n")
    found = read_captions(tmp_path)
    assert found.captions[names[0]] == ["A dog | with a bar 0", "A dog | with a bar 1"]


def test_references_read_without_images(tmp_path: Path) -> None:
    write_kaggle(tmp_path)
    for path in (tmp_path / "Images").iterdir():
        path.unlink()
    assert len(read_captions(tmp_path / "captions.txt").captions) == 17


def test_folder_without_captions_says_what_it_looked_for(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Flickr8k.token.txt"):
        load_data(tmp_path)


def test_clean_caption_drops_the_final_full_stop_and_extra_spaces() -> None:
    assert clean_caption("  A dog  runs .\n") == "A dog runs"


@dataclass(frozen=True)
class Named:
    image: str


@pytest.mark.parametrize("images", [8000, 8091])
def test_full_set_splits_6000_1000_1000_the_same_way_every_time(images: int) -> None:
    examples = [Named(f"{i:05d}.jpg") for i in range(images)]
    splits, left_out = split_by_image(examples)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [6000, 1000, 1000]
    assert len(left_out) == images - 8000
    again, _ = split_by_image(list(reversed(examples)))
    assert all(splits[s] == again[s] for s in splits)


def test_other_sets_split_6_1_1_and_never_share_an_image() -> None:
    splits, left_out = split_by_image([Named(f"{i}.jpg") for i in range(400)])
    assert left_out == []
    assert [len(splits[s]) for s in ("train", "val", "test")] == [300, 50, 50]
    seen = [e.image for part in splits.values() for e in part]
    assert len(seen) == len(set(seen)) == 400


def test_kaggle_split_keeps_all_captions_of_an_image_together(tmp_path: Path) -> None:
    data = load_data(write_kaggle(tmp_path, count=16))
    assert all(len(e.captions) == 3 for part in data.splits.values() for e in part)


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="captionbot")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_check_data_json_reports_splits_and_every_skipped_entry(tmp_path: Path, capsys) -> None:
    assert run_cli(["check-data", str(write_original(tmp_path)), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "original"
    assert report["splits"] == {"train": {"images": 5, "captions": 15}, "val": {"images": 1, "captions": 3},
                                "test": {"images": 1, "captions": 3}}
    names = image_names(8)
    assert {s["entry"] for s in report["skipped"]} == {f"{names[0]}.1#0", "missing_0000.jpg", names[7]}
    assert all(s["reason"] for s in report["skipped"])


def test_check_data_text_and_a_missing_folder(tmp_path: Path, capsys) -> None:
    assert run_cli(["check-data", str(write_kaggle(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "kaggle layout" in out and "missing_0000.jpg" in out
    assert run_cli(["check-data", str(tmp_path / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().err
