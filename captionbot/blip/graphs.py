"""One decoding step captured as a CUDA graph and replayed: launching the ~300 small kernels of a step from
Python costs more than running them, so each (search, rows per image, batch-size bucket, length) is captured
once and every later step is one replay.

A graph reads and writes fixed addresses, so a `Plan` owns its static tensors: the search state, the position,
the token limits, and views of two process-wide `Arena`s for the images' keys and values and the
self-attention cache (one batch decodes at a time, so every plan of every model can share them). A batch
smaller than its bucket is padded with rows that count as done from the start.
"""

import math
import threading
from dataclasses import dataclass

import torch

from captionbot.blip.decoder import ImageKeys, KVCache, TextDecoder
from captionbot.blip.search import BeamSearch, Limits, RowSampler

BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
LENGTH_STEP = 16  # the cache's length is the caption's budget rounded up to this, so few lengths are captured
WARMUP_STEPS = 2  # eager steps on a side stream before capture, as torch.cuda.graphs asks


def bucket(images: int) -> int:
    """The smallest bucket that holds `images` (at most the largest bucket)."""
    return next(size for size in BUCKETS if size >= images)


def cache_length(max_length: int, positions: int) -> int:
    """Room for `max_length` tokens and the one written after the last step, within the decoder's positions."""
    return min(math.ceil((max_length + 1) / LENGTH_STEP) * LENGTH_STEP, positions)


class Arena:
    """A flat device buffer whose leading elements are handed out as views; it grows when a batch needs more,
    and its `generation` changes then, so plans made on the old buffer are made again. `lock` is held for a
    whole decode: the views of one arena serve one batch at a time."""

    _shared: dict[tuple, "Arena"] = {}
    _shared_lock = threading.Lock()

    def __init__(self, device: torch.device, dtype: torch.dtype) -> None:
        self.device, self.dtype = device, dtype
        self.buffer: torch.Tensor | None = None
        self.generation = 0
        self.lock = threading.RLock()

    @classmethod
    def shared(cls, purpose: str, device: torch.device, dtype: torch.dtype) -> "Arena":
        with cls._shared_lock:
            return cls._shared.setdefault((purpose, str(device), dtype), cls(device, dtype))

    def view(self, shape: tuple[int, ...]) -> torch.Tensor:
        needed = math.prod(shape)
        if self.buffer is None or self.buffer.numel() < needed:
            self.buffer = None  # the old buffer goes before the new one is made
            self.buffer = torch.zeros(needed, dtype=self.dtype, device=self.device)
            self.generation += 1
        return self.buffer[:needed].view(shape)


@dataclass(frozen=True)
class PlanKey:
    kind: str  # "beams", "greedy" or "sample"
    group: int  # rows per image: beams, or variations (1: greedy)
    images: int  # the bucket
    length: int  # the cache's length
    prompt_length: int
    patches: int  # image tokens the decoder attends to


class Plan:
    """The static tensors of one PlanKey and, on CUDA, the captured step over them."""

    def __init__(self, key: PlanKey, decoder: TextDecoder, images: Arena, caches: Arena, device: torch.device,
                 eos: int, pad: int, length_penalty: float, early_stopping: bool | str) -> None:
        self.key, self.decoder = key, decoder
        layers, heads, head_dim = len(decoder.layers), decoder.heads, decoder.head_dim
        keys = images.view((2, layers, key.images, heads, key.patches, head_dim))
        self.images = ImageKeys(keys[0], keys[1])
        rows = key.images * key.group
        cache = caches.view((2, layers, rows, heads, key.length, head_dim))
        self.cache = KVCache(cache[0], cache[1])
        self.generation = (images.generation, caches.generation)
        self.cur_len = torch.zeros((), dtype=torch.long, device=device)
        self.limits = Limits(key.prompt_length, torch.zeros_like(self.cur_len), torch.zeros_like(self.cur_len))
        if key.kind == "beams":
            self.search = BeamSearch(key.images, key.group, key.length, eos, device, length_penalty, early_stopping)
        else:
            self.search = RowSampler(rows, key.length, eos, pad, device, greedy=key.kind == "greedy")
        self.graph: torch.cuda.CUDAGraph | None = None

    def step(self) -> None:
        """Read the last tokens, choose the next ones, move the position on: all on the device."""
        logits = self.decoder(self.search.tokens(self.cur_len), self.cur_len - 1, self.cache, self.images)
        if isinstance(self.search, BeamSearch):
            self.cache.reorder(self.search.step(logits, self.cur_len, self.limits))
        else:
            self.search.step(logits, self.cur_len, self.limits)
        self.cur_len += 1

    def capture(self, pool) -> None:
        """Warm up on a side stream, then capture one step (the state it leaves is started afresh before use)."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                self.cur_len.fill_(self.key.prompt_length + 1)
                self.step()
        torch.cuda.current_stream().wait_stream(side)
        self.cur_len.fill_(self.key.prompt_length + 1)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=pool, capture_error_mode="thread_local"):
            self.step()
        self.graph = graph

    def replay(self) -> None:
        if self.graph is not None:
            self.graph.replay()
        else:
            self.step()
