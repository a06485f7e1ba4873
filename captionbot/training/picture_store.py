"""Where training pictures wait between their decode and their batch: `memory` (decoded once, kept in RAM),
`disk` (decoded once into a memory-mapped file under the data set, reused by later runs), or `decode` (read
from the image file on every access); `picture_plan.py` picks one. Every store hands out uint8 arrays of the
same pixels: the memory and the disk store pack the pictures one after another in one flat buffer with an
index of offsets and shapes.

The disk store's folder is named by a digest of what made it: each file's path, size and modification time,
what was read of it (`kind`: model pictures or augmentation pictures, and their side) and Pillow's version.
A change to any image makes a new folder (and deletes the one it replaces); the folder of the same digest is
reused as it is. It is written under a temporary name and renamed into place once whole, so a run killed
while writing leaves nothing that a later run would take for a store (the next writer deletes it).
"""

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import PIL
import torch
from tqdm import tqdm

from captionbot.core.errors import UsageError
from captionbot.training.picture_plan import Plan, Split

Read = Callable[[Path], object]  # a file to its picture: a PIL image, an array or a uint8 tensor
STORE_FORMAT = 1  # part of a disk store's digest: a change to the layout below makes new stores
PIXELS_FILE, INDEX_FILE, META_FILE = "pixels.u8", "index.npy", "meta.json"


class Decoded:
    """Pictures read from their files on every access."""

    def __init__(self, paths: Sequence[Path], read: Read) -> None:
        self.paths, self.read = list(paths), read

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        return np.asarray(self.read(self.paths[index]))


class Packed:
    """Pictures of any shape packed in one flat uint8 buffer; `index` (N, 4): each one's offset and shape.
    Items are copies, so nothing holds a view of the buffer."""

    def __init__(self, paths: Sequence[Path], buffer: np.ndarray | torch.Tensor, index: np.ndarray) -> None:
        self.paths, self.buffer, self.index = list(paths), buffer, index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> np.ndarray:
        offset, *shape = (int(value) for value in self.index[index])
        flat = self.buffer[offset : offset + int(np.prod(shape))]
        return np.array(flat.numpy() if isinstance(flat, torch.Tensor) else flat).reshape(shape)


def decoded_in_order(paths: Sequence[Path], read: Read, threads: int):
    """Each file's picture as a uint8 array, in order; Pillow releases the GIL, so threads decode in parallel."""
    with ThreadPoolExecutor(max(1, threads)) as pool:
        pictures = pool.map(lambda path: np.ascontiguousarray(np.asarray(read(path)), dtype=np.uint8), paths)
        yield from tqdm(pictures, total=len(paths), desc="decoding images", unit="img", disable=None, leave=False)


def in_memory(paths: Sequence[Path], read: Read, threads: int = 4) -> Packed:
    """Every picture decoded now and packed in one tensor: forked loader workers share its pages, and
    workers started by forkserver receive it through shared memory rather than a copy each."""
    pictures = list(decoded_in_order(paths, read, threads))
    index = index_of(pictures)
    buffer = torch.empty(int(index[-1, 0] + pictures[-1].size) if pictures else 0, dtype=torch.uint8)
    flat = buffer.numpy()
    for i, picture in enumerate(pictures):
        flat[int(index[i, 0]) : int(index[i, 0]) + picture.size] = picture.reshape(-1)
        pictures[i] = None  # freed as it is copied: the peak stays near one copy
    return Packed(paths, buffer, index)


def index_of(pictures: Sequence[np.ndarray]) -> np.ndarray:
    sizes = np.array([picture.size for picture in pictures], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    shapes = np.array([picture.shape for picture in pictures], dtype=np.int64).reshape(-1, 3)
    return np.column_stack([offsets, shapes]) if len(pictures) else np.zeros((0, 4), dtype=np.int64)


class OnDisk(Packed):
    """A packed store in a memory-mapped file. Pickled as its folder: a spawned or forkserver loader worker
    maps the file itself (pages the kernel shares between processes), never a copy of the pictures."""

    def __init__(self, paths: Sequence[Path], folder: Path) -> None:
        self.folder = folder
        index = np.load(folder / INDEX_FILE)
        size = int(index[-1, 0] + np.prod(index[-1, 1:])) if len(index) else 0
        buffer = np.memmap(folder / PIXELS_FILE, dtype=np.uint8, mode="r", shape=(size,)) if size else np.zeros(0)
        super().__init__(paths, buffer, index)

    def __reduce__(self):
        return OnDisk, (self.paths, self.folder)


def digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value).encode()).hexdigest()[:24]


def store_key(paths: Sequence[Path], kind: str) -> str:
    """A digest of what a disk store holds: each file's resolved path, size and mtime; what was read of it;
    Pillow's version (its decoders make the pixels)."""
    files = []
    for path in paths:
        stat = path.stat()
        files.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    return digest({"format": STORE_FORMAT, "kind": kind, "pillow": PIL.__version__, "files": files})


def on_disk(paths: Sequence[Path], read: Read, kind: str, cache_dir: Path, threads: int = 4) -> OnDisk:
    """The disk store of these files read this way: the one written before, else written now (and the stores
    of the same files written before they changed are deleted)."""
    folder = cache_dir / f"{kind}-{store_key(paths, kind)}"
    if not (folder / META_FILE).is_file():
        same_files = digest([str(path.resolve()) for path in paths])
        write_store(paths, read, {"kind": kind, "files": same_files}, folder, threads)
        remove_superseded(folder, kind, same_files)
    return OnDisk(paths, folder)


def write_store(paths: Sequence[Path], read: Read, meta: dict, folder: Path, threads: int) -> None:
    """Decode into a temporary folder beside `folder`, one picture at a time, and rename it into place whole."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned(folder.parent)
        staging = Path(folder.parent / f".{folder.name}.{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
    except OSError as err:
        raise UsageError(f"cannot write the picture store in {folder.parent} ({err.strerror}); give --picture-dir "
                         "a writable folder, or --picture-store memory or decode") from err
    rows, offset = [], 0
    with open(staging / PIXELS_FILE, "wb") as pixels:
        for picture in decoded_in_order(paths, read, threads):
            pixels.write(picture.tobytes())
            rows.append([offset, *picture.shape])
            offset += picture.size
        pixels.flush()
        os.fsync(pixels.fileno())
    np.save(staging / INDEX_FILE, np.array(rows, dtype=np.int64).reshape(-1, 4))
    (staging / META_FILE).write_text(json.dumps({**meta, "images": len(rows), "bytes": offset}) + "\n")
    try:
        os.rename(staging, folder)
    except OSError:  # another run wrote the same store first: theirs is as good
        shutil.rmtree(staging, ignore_errors=True)


def remove_superseded(folder: Path, kind: str, same_files: str) -> None:
    """Delete the stores of the same files read the same way from before a file changed (a reader that still
    maps one keeps its pages until it closes them)."""
    for other in folder.parent.glob(f"{kind}-*"):
        if other != folder and (other / META_FILE).is_file():
            if json.loads((other / META_FILE).read_text()).get("files") == same_files:
                shutil.rmtree(other, ignore_errors=True)


def remove_abandoned(cache_dir: Path) -> None:
    """Delete the staging folders of runs killed while writing (their process is gone)."""
    for staging in cache_dir.glob(".*.*"):
        pid = staging.suffix.removeprefix(".")
        if pid.isdigit() and not process_exists(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def open_store(chosen: Plan, split: Split, read: Read, threads: int = 4) -> Packed | Decoded:
    """The split's pictures, read by `read`, in the store `chosen` names."""
    if chosen.store == "memory":
        return in_memory(split.paths, read, threads)
    if chosen.store == "disk":
        return on_disk(split.paths, read, split.kind, chosen.folder, threads)
    return Decoded(split.paths, read)
