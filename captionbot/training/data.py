"""Flickr8k-format caption data in the layouts found in the wild, read into one shape.

    original   Flickr8k.token.txt (`name.jpg#N<TAB>caption`), images in Flicker8k_Dataset/ (sic) or Images/,
               splits in Flickr_8k.{train,dev,test}Images.txt
    kaggle     captions.txt, a CSV with the header `image,caption` (captions with commas are quoted), Images/
    karpathy   Karpathy's split files: images[].{filepath, filename, split, sentences[].raw}
                 dataset_flickr8k.json    images in Flicker8k_Dataset/ or Images/
                 dataset_flickr30k.json   images in flickr30k-images/ or Images/
                 dataset_coco.json        images under their `filepath` folders (train2014/, val2014/), in the
                                          folder or its images/; `restval` trains by convention; an image
                                          keeps every caption (some COCO images have six or seven)
    pipe       a text file of `image|caption` lines (Flickr30k's `image_name| comment_number| comment` too)

`read_captions` reads captions only (enough to score predictions against); `load_data` also checks the image
files and splits by image. Nothing here imports torch.
"""

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from captionbot.core.csv_cells import read_cell
from captionbot.core.images import IMAGE_SUFFIXES
from captionbot.training.splits import SPLITS, split_by_image

# The Kaggle copy of the release nests the folder: Flickr8k_Dataset/Flicker8k_Dataset/.
IMAGE_DIRS = ("Flickr8k_Dataset/Flicker8k_Dataset", "Flicker8k_Dataset", "Flickr8k_Dataset", "Images", "images")
TOKEN_FILE = "Flickr8k.token.txt"
KAGGLE_FILE = "captions.txt"
KARPATHY_FILE = "dataset_flickr8k.json"
# Each Karpathy split file, the format it is reported as, and where its images are (the first that exists).
KARPATHY_FILES = {
    KARPATHY_FILE: ("karpathy", IMAGE_DIRS),
    "dataset_flickr30k.json": ("karpathy-flickr30k", ("flickr30k-images", "flickr30k_images", "Images", "images")),
    "dataset_coco.json": ("karpathy-coco", (".", "images", "coco")),
}
SPLIT_FILES = {
    "train": "Flickr_8k.trainImages.txt",
    "val": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}
KARPATHY_SPLITS = {"train": "train", "restval": "train", "val": "val", "test": "test"}
TEXT_DIRS = (".", "Flickr8k_text", "text", "annotations")
NUMBERED_COPY = re.compile(r"\.(jpe?g|png)\.\d+$", re.IGNORECASE)  # 2258277193_586949ec62.jpg.1


class DataError(Exception):
    """The folder holds no usable caption data; the message says what was looked for."""


@dataclass(frozen=True)
class Skipped:
    entry: str
    reason: str


@dataclass(frozen=True)
class Example:
    """One image and all its captions."""

    image: str  # file name, the image id used in predictions and references
    path: Path
    captions: tuple[str, ...]


@dataclass
class Captions:
    """What a layout's files say, before the image files are checked."""

    format: str
    root: Path
    image_dir: Path
    captions: dict[str, list[str]]  # file name -> captions, in file order
    split_of: dict[str, str] | None  # file name -> train/val/test where the layout names splits
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class DataSet:
    format: str
    root: Path
    splits: dict[str, list[Example]]
    skipped: list[Skipped]

    def summary(self) -> dict:
        """The `check-data --json` object."""
        return {
            "format": self.format,
            "splits": {
                name: {"images": len(examples), "captions": sum(len(e.captions) for e in examples)}
                for name, examples in self.splits.items()
            },
            "skipped": [{"entry": s.entry, "reason": s.reason} for s in self.skipped],
        }


def clean_caption(caption: str) -> str:
    """One line, single spaces, no trailing full stop (Flickr8k ends most captions with ' .')."""
    caption = " ".join(caption.split())
    return caption.rstrip(" .").strip()


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _find(root: Path, name: str, parents: tuple[str, ...] = TEXT_DIRS) -> Path | None:
    for parent in parents:
        candidate = root / parent / name
        if candidate.is_file():
            return candidate
    return None


def _image_dir(root: Path, names: tuple[str, ...] = IMAGE_DIRS, holding: str | None = None) -> Path:
    """The first of `names` under root that exists (and holds the folder `holding`); else root."""
    for name in names:
        if (root / name).is_dir() and (holding is None or (root / name / holding).is_dir()):
            return root / name
    return root


def _add(captions: dict[str, list[str]], skipped: list[Skipped], image: str, caption: str, entry: str) -> None:
    image, caption = image.strip(), clean_caption(caption)
    if NUMBERED_COPY.search(image):
        skipped.append(Skipped(entry, f"'{image}' is not an image file name: an image id with a '.N' suffix, "
                                      "a known slip in the Flickr8k release"))
    elif not is_image_name(image):
        skipped.append(Skipped(entry, f"'{image}' is not an image file name"))
    elif not caption:
        skipped.append(Skipped(entry, "empty caption"))
    else:
        captions.setdefault(image, []).append(caption)


def read_original(root: Path, token_file: Path) -> Captions:
    """Flickr8k.token.txt lines `1000268201_693b08cb0e.jpg#0<TAB>A child in a pink dress ... .`"""
    captions: dict[str, list[str]] = {}
    skipped: list[Skipped] = []
    for number, line in enumerate(token_file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, tab, caption = line.partition("\t")
        image, hash_sign, _ = key.rpartition("#")
        if not tab or not hash_sign:
            skipped.append(Skipped(f"{token_file.name}:{number}", "not a `name.jpg#N<TAB>caption` line"))
            continue
        _add(captions, skipped, image, caption, key)
    split_of = None
    lists = {split: _find(root, name) for split, name in SPLIT_FILES.items()}
    if any(lists.values()):
        split_of = {}
        for split, path in lists.items():
            for name in path.read_text(encoding="utf-8").split() if path else []:
                split_of.setdefault(name, split)
    return Captions("original", root, _image_dir(root), captions, split_of, skipped)


def read_kaggle(root: Path, csv_file: Path) -> Captions:
    """captions.txt: `image,caption` with a header; a caption holding a comma is quoted, and one that a
    spreadsheet would take for a formula has a single quote before it (`captionbot feedback export`)."""
    captions: dict[str, list[str]] = {}
    skipped: list[Skipped] = []
    with csv_file.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle)
        header = [cell.strip().lower() for cell in next(rows, [])]
        if header[:2] != ["image", "caption"]:
            raise DataError(f"{csv_file} does not start with the header `image,caption`.")
        for number, row in enumerate(rows, 2):
            if not row:
                continue
            if len(row) != 2:
                skipped.append(Skipped(f"{csv_file.name}:{number}", f"{len(row)} fields, expected `image,caption`"))
                continue
            _add(captions, skipped, row[0], read_cell(row[1]), f"{csv_file.name}:{number}")
    return Captions("kaggle", root, _image_dir(root), captions, None, skipped)


def read_karpathy(root: Path, json_file: Path) -> Captions:
    """A Karpathy split file: {"images": [{"filepath", "filename", "split", "sentences": [{"raw"}]}]}; an image
    is named by `filepath/filename` where it has a filepath (COCO's `val2014/COCO_val2014_...jpg`)."""
    try:
        images = json.loads(json_file.read_text(encoding="utf-8"))["images"]
        first_folder = next((str(entry.get("filepath", "")) for entry in images if entry.get("filepath")), None)
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise DataError(f"{json_file} is not a Karpathy split file (expected an `images` list).") from err
    layout, image_dirs = KARPATHY_FILES.get(json_file.name, KARPATHY_FILES[KARPATHY_FILE])
    captions: dict[str, list[str]] = {}
    skipped: list[Skipped] = []
    split_of: dict[str, str] = {}
    for entry in images:
        name = str(Path(entry.get("filepath", "")) / entry.get("filename", ""))
        split = KARPATHY_SPLITS.get(entry.get("split", ""))
        if split is None:
            skipped.append(Skipped(name, f"unknown split '{entry.get('split')}'"))
            continue
        for sentence in entry.get("sentences", []):
            _add(captions, skipped, name, sentence.get("raw", ""), name)
        split_of[name] = split
    return Captions(layout, root, _image_dir(root, image_dirs, first_folder), captions, split_of, skipped)


def read_pipe(root: Path, text_file: Path) -> Captions:
    """`image|caption` lines, with or without a header; `image| N| caption` (Flickr30k's results.csv) too."""
    captions: dict[str, list[str]] = {}
    skipped: list[Skipped] = []
    for number, line in enumerate(text_file.read_text(encoding="utf-8").splitlines(), 1):
        image, bar, caption = line.partition("|")
        if not line.strip() or (number == 1 and image.strip().lower() in ("image", "image_name")):
            continue
        if not bar:
            skipped.append(Skipped(f"{text_file.name}:{number}", "no `|` between image and caption"))
            continue
        comment_number, bar, rest = caption.partition("|")
        if bar and comment_number.strip().isdigit():
            caption = rest
        _add(captions, skipped, image, caption, f"{text_file.name}:{number}")
    return Captions("pipe", root, _image_dir(root), captions, None, skipped)


def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace") as handle:
        return handle.readline()


def _pipe_file(root: Path) -> Path | None:
    for path in sorted(root.iterdir()):
        if path.is_file() and path.suffix.lower() in (".txt", ".csv", ".psv"):
            first = _first_line(path)
            if "|" in first and "\t" not in first:
                return path
    return None


def read_captions(path: Path | str) -> Captions:
    """Detect the layout of a folder (or one of its caption files) and read its captions."""
    path = Path(path)
    if path.is_file():
        return _read_file(path.parent, path)
    if not path.is_dir():
        raise DataError(f"{path} does not exist; pass a Flickr8k-layout folder.")
    for name in (*KARPATHY_FILES, TOKEN_FILE):
        found = _find(path, name)
        if found:
            return _read_file(path, found)
    kaggle = path / KAGGLE_FILE
    if kaggle.is_file() and _first_line(kaggle).strip().lower().startswith("image,caption"):
        return read_kaggle(path, kaggle)
    pipe = _pipe_file(path)
    if pipe:
        return read_pipe(path, pipe)
    raise DataError(
        f"No caption file found in {path}: expected {TOKEN_FILE} (original), {KAGGLE_FILE} with the header "
        f"`image,caption` (Kaggle), a Karpathy split file ({', '.join(KARPATHY_FILES)}) or a text file of "
        "`image|caption` lines."
    )


def _read_file(root: Path, path: Path) -> Captions:
    if path.suffix == ".json":
        return read_karpathy(root, path)
    first = _first_line(path)
    if "\t" in first and "#" in first.split("\t")[0]:
        return read_original(root, path)
    if first.strip().lower().startswith("image,caption"):
        return read_kaggle(root, path)
    if "|" in first:
        return read_pipe(root, path)
    raise DataError(f"{path} is in none of the Flickr8k layouts this tool reads.")


def _existing_images(found: Captions) -> tuple[list[Example], list[Skipped]]:
    present = {p.name for p in found.image_dir.iterdir()} if found.image_dir.is_dir() else set()
    examples, skipped = [], []
    where = found.image_dir.relative_to(found.root) if found.image_dir != found.root else Path(".")
    for image, captions in found.captions.items():
        if image in present or (found.image_dir / image).is_file():
            examples.append(Example(image, found.image_dir / image, tuple(captions)))
        else:
            skipped.append(Skipped(image, f"image file missing from {where}/; its {len(captions)} captions skipped"))
    return examples, skipped


def _listed_splits(found: Captions, examples: list[Example]) -> tuple[dict[str, list[Example]], list[Skipped]]:
    assert found.split_of is not None
    splits: dict[str, list[Example]] = {name: [] for name in SPLITS}
    skipped = []
    for example in examples:
        split = found.split_of.get(example.image)
        if split is None:
            skipped.append(Skipped(example.image, "in no split list"))
        else:
            splits[split].append(example)
    listed_without_captions = sorted(set(found.split_of) - set(found.captions))
    skipped += [Skipped(name, f"listed in the {found.split_of[name]} split but has no captions")
                for name in listed_without_captions]
    return splits, skipped


def load_data(path: Path | str) -> DataSet:
    """Read a data set, keep the captions whose image file exists, and split it by image.

    The layout's own split is kept (split lists, Karpathy's `split`); otherwise images are split
    deterministically, 6000/1000/1000 for the full Flickr8k and 6:1:1 for other sizes (see splits.py)."""
    found = read_captions(path)
    examples, missing = _existing_images(found)
    if found.split_of is not None:
        splits, unsplit = _listed_splits(found, examples)
    else:
        splits, left_out = split_by_image(examples)
        unsplit = [Skipped(e.image, "left out of the full set's 6000/1000/1000 split, as the release's split "
                                    "lists leave it out") for e in left_out]
    data = DataSet(found.format, found.root, splits, found.skipped + missing + unsplit)
    if not any(data.splits.values()):
        raise DataError(f"No captioned image found in {found.root}: every entry was skipped ({len(data.skipped)}).")
    return data
