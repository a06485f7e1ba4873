"""`captionbot feedback export DIR`: the approved suggestions (and, with `with_upvoted`, captions that got clear
approval) as a data set in Kaggle's Flickr8k layout, `Images/` + `captions.txt` (CSV, header `image,caption`),
which `captionbot check-data` and `captionbot train` read and split by image like every other layout. A caption
that would start a spreadsheet formula is written quoted (`core/csv_cells.py`) and read back as it was typed.

The folder is written under a temporary name beside DIR and renamed into place, so a reader never sees half."""

import csv
import os
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import case, func, select

from captionbot.core.csv_cells import written_cell
from captionbot.feedback.schema import Shown, ShownModel, StoredImage, Suggestion, Vote
from captionbot.feedback.stats import wilson
from captionbot.feedback.store import APPROVED, FeedbackStore

IMAGES_DIR = "Images"
CAPTIONS_FILE = "captions.txt"
IMAGE_NAME_LENGTH = 24  # hex characters of the content hash


class ExportError(Exception):
    """The target cannot be written; the message says why and what to do."""


@dataclass(frozen=True)
class Exported:
    images: int
    suggestions: int
    upvoted: int


def image_name(content_hash: str) -> str:
    return f"{content_hash[:IMAGE_NAME_LENGTH]}.jpg"


async def _approved(store: FeedbackStore) -> list[tuple[str, str]]:
    query = (
        select(Shown.image_hash, Suggestion.text)
        .join(Shown, Shown.token == Suggestion.token)
        .where(Suggestion.status == APPROVED)
        .order_by(Suggestion.id)
    )
    async with store.sessions() as session:
        return [(image_hash, caption) for image_hash, caption in await session.execute(query)]


async def _upvoted(store: FeedbackStore, min_lower_bound: float) -> list[tuple[str, str]]:
    """Single captions whose 👍 share has a 95% Wilson lower bound of at least `min_lower_bound`."""
    ups = func.sum(case((Vote.value == "up", 1), else_=0))
    tallies = (
        select(Vote.token, ups.label("up"), func.count().label("total"))
        .where(Vote.value.in_(("up", "down")))
        .group_by(Vote.token)
        .subquery()
    )
    query = (
        select(Shown.image_hash, ShownModel.captions, tallies.c.up, tallies.c.total)
        .join(ShownModel, ShownModel.token == Shown.token)
        .join(tallies, tallies.c.token == Shown.token)
        .where(Shown.mode == "single")
        .order_by(Shown.shown_at)
    )
    async with store.sessions() as session:
        rows = (await session.execute(query)).all()
    return [
        (image_hash, captions[0])
        for image_hash, captions, up, total in rows
        if captions and wilson(int(up), int(total))[0] >= min_lower_bound
    ]


async def export(
    store: FeedbackStore, target: Path, with_upvoted: bool = False, min_lower_bound: float = 0.5
) -> Exported:
    if target.exists() and any(target.iterdir()):
        raise ExportError(f"{target} already exists and is not empty; export into a new folder")
    suggested = await _approved(store)
    upvoted = await _upvoted(store, min_lower_bound) if with_upvoted else []
    captions: dict[str, list[str]] = defaultdict(list)
    for image_hash, caption in [*suggested, *upvoted]:
        if caption.casefold() not in (c.casefold() for c in captions[image_hash]):
            captions[image_hash].append(caption)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        await _write(store, staging, captions)
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Exported(len(captions), len(suggested), len(upvoted))


async def _write(store: FeedbackStore, folder: Path, captions: dict[str, list[str]]) -> None:
    (folder / IMAGES_DIR).mkdir()
    async with store.sessions() as session:
        for image_hash in sorted(captions):
            jpeg = await session.scalar(select(StoredImage.jpeg).where(StoredImage.content_hash == image_hash))
            (folder / IMAGES_DIR / image_name(image_hash)).write_bytes(jpeg)
    with (folder / CAPTIONS_FILE).open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["image", "caption"])
        for image_hash in sorted(captions):
            writer.writerows([image_name(image_hash), written_cell(caption)] for caption in captions[image_hash])
