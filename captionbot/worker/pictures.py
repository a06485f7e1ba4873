"""Image bytes to the model's picture, where decoding cannot stall the thread that launches the GPU's work.

Pillow holds the interpreter's lock for part of every decode and resize; on a GPU worker, 32 request threads
decoding at once would keep the batching thread from launching kernels. There the pictures are made in a pool
of processes (started with `spawn`: a CUDA process must not fork), which hand back the uint8 picture
(`blip.pixels.picture_array`, the one preprocessing path); a CPU worker decodes in the request's own thread.
"""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from captionbot.blip.pixels import ImageSpec, picture_array

MAX_AUTO_PROCESSES = 8


def decode_processes(setting: int | None, on_gpu: bool) -> int:
    """IMAGE_DECODE_PROCESSES, else (unset) up to 8 processes on a GPU worker and none on a CPU worker."""
    if setting is not None:
        return setting
    return min(MAX_AUTO_PROCESSES, os.cpu_count() or 1) if on_gpu else 0


class Pictures:
    def __init__(self, processes: int, max_bytes: int, max_pixels: int) -> None:
        self.max_bytes, self.max_pixels = max_bytes, max_pixels
        self._pool = None
        if processes:
            self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))

    @property
    def processes(self) -> int:
        return self._pool._max_workers if self._pool is not None else 0

    def picture(self, data: bytes, spec: ImageSpec) -> np.ndarray:
        """(size, size, 3) uint8; an `ImageRejected` from the decoding process is raised here, as it was."""
        if self._pool is None:
            return picture_array(data, spec, self.max_bytes, self.max_pixels)
        return self._pool.submit(picture_array, data, spec, self.max_bytes, self.max_pixels).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
