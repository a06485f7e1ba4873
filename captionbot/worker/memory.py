"""Giving a retired or refused model's memory back: to the OS (host RSS) and to the GPU (the caching
allocator's reserved blocks), once its last reference is gone.

An old model is still held by the batches that started on it, so its memory can only be returned after they
finish: `Retiring` watches the model with a weak reference and waits for it to go. No `gc.collect()`: a BLIP
model holds no reference cycles, so it goes with its last reference, and a forced collection would stall every
serving thread. glibc keeps freed heap pages for reuse; `malloc_trim(0)` returns them.
"""

import ctypes
import ctypes.util
import logging
import threading
import weakref

import torch

log = logging.getLogger("captionbot.worker")

RELEASE_TIMEOUT_S = 60.0


def _libc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None  # CDLL calls release the GIL
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


_malloc_trim = _libc_trim()


def return_memory(device: torch.device) -> None:
    """Hand freed memory back: the heap's free pages to the OS, and on CUDA the allocator's unused blocks."""
    if _malloc_trim is not None:
        _malloc_trim(0)
    if device.type == "cuda":
        torch.cuda.empty_cache()


class Retiring:
    """Watch a model that is no longer live; `wait()` returns once its last reference went (and its memory
    was returned), or after `timeout_s` with False."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self.device = device
        self._gone = threading.Event()
        weakref.finalize(model, self._gone.set)

    def wait(self, timeout_s: float = RELEASE_TIMEOUT_S) -> bool:
        gone = self._gone.wait(timeout_s)
        if not gone:
            log.warning("the retired model is still referenced after %.0f s; its memory is not returned yet", timeout_s)
        return_memory(self.device)
        return gone
