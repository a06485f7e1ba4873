"""Which picture store a run uses and what it takes, from the data set alone (no decoding, no torch): what
`captionbot check-data` prints and what `captionbot train --picture-store auto` follows.

Memory grows with the data set (BLIP-base's 384 px pictures are 442 KB each: Flickr30k 14 GB, COCO 54 GB), so
`auto` keeps the pictures in RAM only while they fit a quarter of it, else in a memory-mapped file on disk where
there is room, else decodes them per step in the loader workers (`picture_store.py` holds the stores).
"""

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from captionbot.core.errors import UsageError
from captionbot.core.images import human_size
from captionbot.training.data import DataSet

STORES = ("auto", "memory", "disk", "decode")
RAM_SHARE = 0.25  # `auto` keeps pictures in memory while they take at most this share of the machine's RAM
DISK_HEADROOM = 1.1  # and writes them to disk while the disk has this much more than they take
CACHE_DIR = ".picture-store"  # under the data set's folder, unless --picture-dir names another
ASPECT_SAMPLE = 200  # image headers read to estimate augmentation pictures' size


@dataclass(frozen=True)
class Plan:
    """Which store a run's pictures go to and what it takes."""

    store: str  # memory, disk or decode
    images: int
    bytes: int  # what the pictures take in memory or on disk (0 when decoded per access)
    folder: Path | None  # the disk store's cache folder
    reason: str

    def describe(self) -> str:
        where = {"memory": "in memory", "disk": f"on disk in {self.folder}", "decode": "nowhere"}[self.store]
        return (f"picture store: {self.store} ({self.reason}): {self.images} pictures, "
                f"{human_size(self.bytes)} {where}")


def ram_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def free_disk_bytes(folder: Path) -> int:
    existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
    return shutil.disk_usage(existing).free


def picture_bytes(paths: Sequence[Path], side: int, square: bool) -> int:
    """Estimated bytes of `paths`' pictures: side² RGB for model pictures, or with the shorter side at `side`
    and the aspect of a sample of the files' headers for the augmentation's."""
    if not paths:
        return 0
    if square:
        return len(paths) * 3 * side * side
    sample = paths[:: max(1, len(paths) // ASPECT_SAMPLE)]
    aspects = []
    for path in sample:
        try:
            with Image.open(path) as image:
                aspects.append(max(image.size) / max(1, min(image.size)))
        except (OSError, SyntaxError, ValueError):
            continue  # refused later, with its reason, when it is decoded
    aspect = sum(aspects) / len(aspects) if aspects else 1.0
    return round(len(paths) * 3 * side * side * aspect)


def shared_memory_bytes() -> int:
    """Free room in /dev/shm, where the memory store goes to reach loader workers started by forkserver."""
    return shutil.disk_usage("/dev/shm").free if os.path.isdir("/dev/shm") else 0


def plan(choice: str, estimated: int, images: int, folder: Path, ram: int | None = None,
         shared: int | None = None) -> Plan:
    """The store for `choice` (one of STORES); `auto` by the estimate against RAM (and `shared`, the free
    shared memory, where loader workers receive the memory store through it) and the disk's free space."""
    if choice not in STORES:
        raise UsageError(f"--picture-store {choice!r}: use one of {', '.join(STORES)}")
    budget = RAM_SHARE * (ram if ram is not None else ram_bytes())
    room = f"a quarter of RAM, {human_size(budget)}"
    if shared is not None and shared < budget:
        budget, room = shared, f"the free shared memory, {human_size(shared)} in /dev/shm"
    if choice == "auto":
        if estimated <= budget:
            return Plan("memory", images, estimated, None, f"auto: fits {room}")
        if estimated * DISK_HEADROOM <= free_disk_bytes(folder):
            return Plan("disk", images, estimated, folder, f"auto: over {room}")
        return Plan("decode", images, 0, None, f"auto: over {room} and over the free disk at {folder}")
    return Plan(choice, images, 0 if choice == "decode" else estimated, folder if choice == "disk" else None,
                "as asked")


@dataclass(frozen=True)
class Split:
    """One split's pictures as a run reads them: model pictures (side × side, `square`) or the augmentation's
    (the shorter side at `side`)."""

    paths: list[Path]
    square: bool
    side: int

    @property
    def kind(self) -> str:
        """What is read of each file: part of a disk store's name and digest."""
        return f"{'model' if self.square else 'shorter-side'}-{self.side}"


def run_splits(data: DataSet, side: int, augment: bool) -> dict[str, Split]:
    """The train and val pictures of a run: the train split's for augmentation unless --no-augment."""
    return {"train": Split([e.path for e in data.splits["train"]], not augment, side),
            "val": Split([e.path for e in data.splits["val"]], True, side)}


def plan_for(choice: str, splits: Sequence[Split], folder: Path, shared: int | None = None) -> Plan:
    """The store of a run's splits together, by their estimated size."""
    estimated = sum(picture_bytes(split.paths, split.side, split.square) for split in splits)
    return plan(choice, estimated, sum(len(split.paths) for split in splits), folder, shared=shared)


def cache_folder(data_root: Path, picture_dir: Path | None) -> Path:
    return Path(picture_dir) if picture_dir else Path(data_root) / CACHE_DIR
