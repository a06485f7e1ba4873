"""Helpers shared by the benchmarks: a BLIP-base-shaped checkpoint, sample photos, percentiles."""

import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

CACHE = Path(".bench-cache")


def base_checkpoint() -> Path:
    """BlipConfig() defaults (BLIP-base's shape) with random weights, made once and kept in .bench-cache; its
    vocabulary spells BLIP's prompt in three tokens, as BLIP-base's does."""
    from captionbot.core.settings import BLIP_PROMPT
    from captionbot.training.scratch import caption_words, save_random_blip

    path = CACHE / "blip-base-random-prompt"
    if not (path / "model.safetensors").is_file():
        save_random_blip(path, caption_words([BLIP_PROMPT]), shape="base")
    return path


def sample_jpeg(side: int = 640) -> bytes:
    import skimage

    image = Image.open(Path(skimage.__file__).parent / "data" / "astronaut.png").convert("RGB")
    image = image.resize((side, side))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values_ms: list[float]) -> str:
    return f"p50 {percentile(values_ms, 50):8.1f} ms  p95 {percentile(values_ms, 95):8.1f} ms  mean {statistics.mean(values_ms):8.1f} ms"


def median_ms(fn: Callable[[], object], repeat: int, sync: Callable[[], object] = lambda: None) -> float:
    """Median wall time of `fn` in ms after one warm-up call; `sync` waits for queued device work."""
    fn()
    times = []
    for _ in range(repeat):
        sync()
        started = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000
