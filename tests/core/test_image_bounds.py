"""Hostile images cost little: pictures other than JPEG are reduced right after decoding, before alpha is
composited or colours converted, and every decode runs on the process's few decoding threads."""

import asyncio
import io
import threading

from PIL import Image

from captionbot.core.images import decode_image, shrink_for_job
from captionbot.core.settings import get_settings

MAX_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 50_000_000


def png(image: Image.Image, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", **params)
    return out.getvalue()


def half_clear_red(size: tuple[int, int]) -> Image.Image:
    """Left half opaque red, right half fully transparent black."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, size[0] // 2, size[1]))
    return image


def test_a_large_transparent_png_is_reduced_then_composited_on_white():
    picture = decode_image(png(half_clear_red((4000, 3000))), MAX_BYTES, MAX_PIXELS, min_side=384)
    assert 384 <= min(picture.size) < 2 * 384 and picture.mode == "RGB"
    assert picture.getpixel((10, 10)) == (255, 0, 0)
    # transparent black reduced as transparent (alpha-weighted), so white shows through, not grey
    assert picture.getpixel((picture.width - 10, 10)) == (255, 255, 255)


def test_shrinking_a_long_strip_reduces_by_its_longer_side_and_keeps_the_aspect():
    strip = Image.new("RGBA", (20000, 500), (0, 128, 0, 255))
    shrunk = Image.open(io.BytesIO(shrink_for_job(png(strip), MAX_BYTES, MAX_PIXELS, 768)))
    assert shrunk.size == (768, 19)


def test_a_large_palette_png_is_sampled_down_before_conversion():
    palette = Image.new("P", (6000, 4000), 1)
    palette.putpalette([0, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
    picture = decode_image(png(palette, transparency=0), MAX_BYTES, MAX_PIXELS, min_side=384)
    assert 384 <= min(picture.size) < 2 * 384
    assert picture.getpixel((100, 100)) == (0, 0, 255)


def test_concurrent_decodes_share_the_process_decoding_threads():
    data = png(half_clear_red((3000, 3000)))

    async def at_once():
        return await asyncio.gather(*(asyncio.to_thread(shrink_for_job, data, MAX_BYTES, MAX_PIXELS, 768) for _ in range(8)))

    assert len(asyncio.run(at_once())) == 8
    decoders = [t for t in threading.enumerate() if t.name.startswith("decode")]
    assert 1 <= len(decoders) <= get_settings().image_decodes_at_once
