"""Per-process values in a forked child: made afresh there, the parent's left alone; decoding after a fork."""

import io
import multiprocessing
import os

from PIL import Image

from captionbot.core.images import decode_image
from captionbot.core.per_process import PerProcess
from tests.fixtures.fresh import in_fresh_interpreter

FORK = multiprocessing.get_context("fork")
CHILD_TIMEOUT_S = 60  # a hang fails the test instead of holding the suite


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


class Handle:
    """Stands for a helper process's handle: closing it in a child would close the parent's."""

    closed_by: list[int] = []

    def __init__(self) -> None:
        self.pid = os.getpid()

    def __del__(self) -> None:
        Handle.closed_by.append(os.getpid())


def in_fork(target, *args) -> list:
    """Run `target(queue, *args)` in a forked child; what it put on the queue."""
    queue = FORK.Queue()
    child = FORK.Process(target=target, args=(queue, *args))
    child.start()
    child.join(CHILD_TIMEOUT_S)
    if child.is_alive():
        child.kill()
        raise AssertionError(f"the forked child still runs after {CHILD_TIMEOUT_S} s")
    assert child.exitcode == 0
    return [queue.get(timeout=5)]


def decode_in_child(queue, data: bytes) -> None:
    queue.put(decode_image(data, 10**6, 10**6).size)


def decode_then_fork() -> None:
    data = jpeg()
    assert decode_image(data, 10**6, 10**6).size == (64, 48)  # the parent's decoding threads now exist
    assert in_fork(decode_in_child, data) == [(64, 48)]


def test_a_child_forked_after_its_parent_decoded_decodes() -> None:
    in_fresh_interpreter(decode_then_fork)


def handle_in_child(queue, value: PerProcess) -> None:
    made = value.get()
    queue.put((made.pid == os.getpid(), value.get() is made, Handle.closed_by.copy()))


def make_then_fork() -> None:
    value = PerProcess(Handle)
    parents = value.get()
    assert value.get() is parents and parents.pid == os.getpid()
    [(own, kept, closed)] = in_fork(handle_in_child, value)
    assert own and kept  # made in the child, once
    assert closed == []  # the parent's handle was not closed in the child
    assert value.get() is parents


def test_a_forked_child_makes_its_own_value_and_leaves_the_parents_open() -> None:
    in_fresh_interpreter(make_then_fork)
