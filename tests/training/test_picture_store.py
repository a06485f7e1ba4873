"""Picture stores: the same pixels in memory, on disk and decoded per access; the disk store written once,
reused, rebuilt when an image changes, never left half-written, read by loader workers; the choice by size."""

import json
import pickle
import shutil
from functools import partial
from multiprocessing.reduction import ForkingPickler
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader

from captionbot.blip.pixels import ImageSpec
from captionbot.core.errors import UsageError
from captionbot.cli import main as cli
from captionbot.training.data import load_data
from captionbot.training.dataset import read_model_picture, read_picture
from captionbot.training.picture_plan import CACHE_DIR, plan
from captionbot.training.picture_store import META_FILE, PIXELS_FILE, Decoded, in_memory, on_disk
from tests.fixtures.fresh import in_fresh_interpreter

SPEC = ImageSpec(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
READS = {"model-32": partial(read_model_picture, spec=SPEC), "shorter-side-32": partial(read_picture, side=32)}


@pytest.fixture
def data(shapes_data: Path, tmp_path: Path) -> Path:
    """A copy of the shapes set: these tests write stores under it and change its images."""
    return Path(shutil.copytree(shapes_data, tmp_path / "data"))


def paths_of(data: Path) -> list[Path]:
    return [e.path for e in load_data(data).splits["val"]]


def stores_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("kind", list(READS))
def test_memory_disk_and_decode_give_the_same_pixels(data: Path, kind: str) -> None:
    paths, read = paths_of(data), READS[kind]
    memory, disk, decoded = in_memory(paths, read), on_disk(paths, read, kind, data / CACHE_DIR), Decoded(paths, read)
    assert len(memory) == len(disk) == len(decoded) == len(paths)
    for i in range(len(paths)):
        assert memory[i].dtype == disk[i].dtype == np.uint8
        assert np.array_equal(memory[i], decoded[i]) and np.array_equal(disk[i], decoded[i])
    assert not np.array_equal(disk[0], disk[1])  # the pictures differ, so equality means something


def test_the_disk_store_is_reused_and_rebuilt_when_an_image_changes(data: Path) -> None:
    paths, read, cache = paths_of(data), READS["model-32"], data / CACHE_DIR
    first = on_disk(paths, read, "model-32", cache)
    written = (first.folder / PIXELS_FILE).stat()
    again = on_disk(paths, read, "model-32", cache)
    assert again.folder == first.folder
    reread = (again.folder / PIXELS_FILE).stat()
    assert (reread.st_ino, reread.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)  # not written again

    Image.new("RGB", (80, 60), (10, 200, 10)).save(paths[0], quality=90)  # an image changes
    changed = on_disk(paths, read, "model-32", cache)
    assert changed.folder != first.folder
    assert not first.folder.exists()  # the store of the files as they were is deleted
    assert np.array_equal(changed[0], np.asarray(read(paths[0])))
    assert not np.array_equal(changed[0], first[0])
    assert np.array_equal(changed[1], first[1])
    assert on_disk(paths, READS["shorter-side-32"], "shorter-side-32", cache).folder not in (first.folder,
                                                                                           changed.folder)


def test_a_run_killed_while_writing_leaves_no_store_a_later_run_takes(data: Path) -> None:
    paths, cache = paths_of(data), data / CACHE_DIR

    def dies_on_the_third(path: Path):
        if path == paths[2]:
            raise KeyboardInterrupt  # as a run stopped mid-write
        return READS["model-32"](path)

    with pytest.raises(KeyboardInterrupt):
        on_disk(paths, dies_on_the_third, "model-32", cache)
    assert stores_of(cache) == []  # only the staging folder, under a name no run looks up
    abandoned = cache / ".model-32-0123456789abcdef01234567.999999999"  # a writer whose process is gone
    abandoned.mkdir()
    whole = on_disk(paths, READS["model-32"], "model-32", cache)
    assert json.loads((whole.folder / META_FILE).read_text())["images"] == len(paths)
    assert all(np.array_equal(whole[i], np.asarray(READS["model-32"](p))) for i, p in enumerate(paths))
    assert not abandoned.exists()


@pytest.mark.parametrize("context", ["fork", "forkserver"])
def test_loader_workers_read_the_disk_store(data: Path, context: str) -> None:
    in_fresh_interpreter(workers_read_the_disk_store, data, context)


def workers_read_the_disk_store(data: Path, context: str) -> None:
    paths, read = paths_of(data), READS["model-32"]
    disk = on_disk(paths, read, "model-32", data / CACHE_DIR)
    assert len(pickle.dumps(disk)) < 4096  # a worker started by forkserver gets the file's name, not the pixels
    loader = DataLoader(disk, batch_size=2, num_workers=2, multiprocessing_context=context)
    read_by_workers = np.concatenate([batch.numpy() for batch in loader])
    assert np.array_equal(read_by_workers, np.stack([np.asarray(read(p)) for p in paths]))


@pytest.mark.parametrize("context", ["fork", "forkserver"])
def test_loader_workers_read_the_memory_store_without_a_copy_each(data: Path, context: str) -> None:
    in_fresh_interpreter(workers_read_the_memory_store, data, context)


def workers_read_the_memory_store(data: Path, context: str) -> None:
    paths, read = paths_of(data), READS["model-32"]
    memory = in_memory(paths, read)
    assert len(ForkingPickler.dumps(memory)) < 4096  # forkserver workers get it through shared memory
    loader = DataLoader(memory, batch_size=2, num_workers=2, multiprocessing_context=context)
    read_by_workers = np.concatenate([batch.numpy() for batch in loader])
    assert np.array_equal(read_by_workers, np.stack([np.asarray(read(p)) for p in paths]))


def test_auto_chooses_by_size_and_names_the_flag_on_a_bad_choice(tmp_path: Path) -> None:
    gb = 10**9
    assert plan("auto", 3 * gb, 100, tmp_path, ram=16 * gb).store == "memory"
    on_disk_plan = plan("auto", 5 * gb, 100, tmp_path, ram=16 * gb)
    assert (on_disk_plan.store, on_disk_plan.folder) == ("disk", tmp_path)
    assert plan("auto", 10**18, 100, tmp_path, ram=16 * gb).store == "decode"  # over RAM and the free disk
    assert plan("memory", 10**18, 100, tmp_path, ram=gb).store == "memory"  # asked for, not second-guessed
    through_shm = plan("auto", 3 * gb, 100, tmp_path, ram=16 * gb, shared=2 * gb)  # workers beside a GPU
    assert through_shm.store == "disk" and "/dev/shm" in through_shm.reason
    with pytest.raises(UsageError, match="--picture-store"):
        plan("ram", gb, 100, tmp_path)


def test_check_data_says_which_store_and_how_much(data: Path, capsys) -> None:
    assert cli(["check-data", str(data), "--image-size", "384", "--picture-store", "disk"]) == 0
    text = capsys.readouterr().out
    assert "picture store: disk (as asked): 42 pictures" in text and str(data / CACHE_DIR) in text
    assert cli(["check-data", str(data), "--json", "--no-augment"]) == 0
    store = json.loads(capsys.readouterr().out)["picture_store"]
    assert store["images"] == 42 and store["bytes"] == 42 * 3 * 384 * 384  # square model pictures
    assert store["store"] == "memory"  # 19 MB fits a quarter of any machine this runs on


def test_an_unwritable_store_folder_is_refused_with_what_to_do_instead(data: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(UsageError, match="--picture-dir a writable folder, or --picture-store memory or decode"):
        on_disk(paths_of(data), READS["model-32"], "model-32", blocked / "stores")
