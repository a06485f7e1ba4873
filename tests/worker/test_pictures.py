"""Job images decoded in a pool of processes give the pictures decoding in the thread gives, and the same
refusals; the engine captions alike either way."""

import io

import numpy as np
import pytest
from PIL import Image

from captionbot.blip.pixels import ImageSpec
from captionbot.core.errors import ImageCorrupt, ImageUnsupported
from captionbot.core.jobs import Job
from captionbot.core.settings import Settings
from captionbot.worker.engine import CaptionEngine
from captionbot.worker.pictures import Pictures, decode_processes

SPEC = ImageSpec(64, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


def encoded(size: tuple[int, int], fmt: str, mode: str = "RGB", seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], len(mode)), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, mode).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture(scope="module")
def pool():
    pictures = Pictures(2, 10**8, 10**8)
    yield pictures
    pictures.close()


def test_a_process_pool_gives_the_threads_pictures_and_refusals(pool) -> None:
    in_thread = Pictures(0, 10**8, 10**8)
    for data in (encoded((640, 480), "JPEG"), encoded((90, 70), "PNG", "RGBA", 1), encoded((33, 200), "WEBP")):
        from_pool = pool.picture(data, SPEC)
        assert from_pool.shape == (64, 64, 3) and from_pool.dtype == np.uint8
        assert np.array_equal(from_pool, in_thread.picture(data, SPEC))
    truncated = encoded((640, 480), "JPEG")[:2000]
    for bad, refusal in ((truncated, ImageCorrupt), (b"<svg xmlns='http://www.w3.org/2000/svg'/>", ImageUnsupported)):
        with pytest.raises(refusal) as in_pool:
            pool.picture(bad, SPEC)
        with pytest.raises(refusal) as here:
            in_thread.picture(bad, SPEC)
        assert in_pool.value.message == here.value.message


def test_decode_processes_default_to_none_on_the_cpu_and_some_on_a_gpu() -> None:
    assert decode_processes(None, on_gpu=False) == 0
    assert decode_processes(None, on_gpu=True) >= 1
    assert decode_processes(3, on_gpu=False) == 3


def test_the_engine_captions_alike_with_decoding_processes(tiny_loaded) -> None:
    images = [encoded((120, 90), "PNG", seed=seed) for seed in range(3)]
    captions = {}
    for processes in (0, 2):
        settings = Settings(_env_file=None, image_decode_processes=processes)
        engine = CaptionEngine(settings, {"pretrained": tiny_loaded, "finetuned": None})
        try:
            assert engine._pictures.processes == processes
            captions[processes] = [engine.run(Job(image=image, models=("pretrained",))).results["pretrained"].captions
                                   for image in images]
        finally:
            engine.close()
    assert captions[0] == captions[2] and len({c[0] for c in captions[0]}) > 1
