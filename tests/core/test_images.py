"""Image intake: every kind of strange file gets a specific code, every good one an upright RGB picture."""

import io
import struct
import zlib

import pytest
from PIL import Image

from captionbot.core.errors import ImageRejected
from captionbot.core.images import decode_image, inspect_image, shrink_for_job

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 4_000_000


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def decode(data: bytes, **kwargs) -> Image.Image:
    return decode_image(data, MAX_BYTES, MAX_PIXELS, **kwargs)


def refused(data: bytes) -> ImageRejected:
    with pytest.raises(ImageRejected) as info:
        decode(data)
    return info.value


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
def test_accepted_formats_decode_to_rgb(fmt):
    picture = decode(encode(Image.new("RGB", (40, 30), (10, 200, 30)), fmt))
    assert picture.mode == "RGB" and picture.size == (40, 30)


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (20, 20), color) for color in [(255, 0, 0), (0, 0, 255)]]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert inspect_image(data, MAX_BYTES, MAX_PIXELS).frames == 2
    assert decode(data).getpixel((10, 10))[0] > 200


def test_animated_webp_gives_its_first_frame():
    frames = [Image.new("RGB", (20, 20), color) for color in [(0, 255, 0), (0, 0, 255)]]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    assert decode(data).getpixel((10, 10))[1] > 200


def test_exif_orientation_is_applied():
    wide = Image.new("RGB", (60, 20), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    picture = decode(encode(wide, "JPEG", exif=exif))
    assert picture.size == (20, 60)


def test_transparent_png_is_composited_on_white():
    clear = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert decode(encode(clear, "PNG")).getpixel((5, 5)) == (255, 255, 255)


def test_palette_with_transparency_is_composited_on_white():
    palette = Image.new("P", (10, 10), 0)
    palette.putpalette([0, 0, 0] * 256)
    data = encode(palette, "PNG", transparency=0)
    assert decode(data).getpixel((5, 5)) == (255, 255, 255)


def test_cmyk_jpeg_is_converted():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # red
    red, green, blue = decode(encode(cmyk, "JPEG")).getpixel((8, 8))
    assert red > 200 and green < 60 and blue < 60


def test_sixteen_bit_grayscale_png_is_scaled():
    deep = Image.new("I;16", (8, 8), 65535)
    assert decode(encode(deep, "PNG")).getpixel((4, 4)) == (255, 255, 255)


def test_grayscale_is_converted():
    assert decode(encode(Image.new("L", (8, 8), 128), "PNG")).getpixel((4, 4)) == (128, 128, 128)


def test_empty_file():
    assert refused(b"").code == "image_empty"


def test_too_many_bytes_is_refused_before_decoding():
    with pytest.raises(ImageRejected) as info:
        decode_image(b"\xff" * 2048, 1024, MAX_PIXELS)
    assert info.value.code == "image_too_large"
    assert "limit" in info.value.message


def test_pixel_limit_is_checked_from_the_header():
    big = encode(Image.new("L", (2500, 2000)), "PNG")  # 5 MP > 4 MP
    error = refused(big)
    assert error.code == "image_too_many_pixels"
    assert "2500×2000" in error.message


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge canvas: a decompression bomb's calling card."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))  # noqa: E731
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused():
    assert refused(png_header_only(100_000, 100_000)).code == "image_too_many_pixels"


def test_truncated_jpeg_is_corrupt():
    data = encode(Image.effect_noise((256, 256), 50).convert("RGB"), "JPEG")
    assert refused(data[: len(data) // 2]).code == "image_corrupt"


def test_garbage_after_a_valid_header_is_corrupt():
    data = encode(Image.new("RGB", (64, 64)), "PNG")
    assert refused(data[:40] + b"\x00garbage" * 20).code in ("image_corrupt", "image_unsupported")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        (b"<!DOCTYPE html><html><body>cat</body></html>", "web page"),
        (b"%PDF-1.7\n...", "PDF"),
        (b"just some text, not a picture", "not an image"),
    ],
)
def test_non_images_are_named(data, kind):
    error = refused(data)
    assert error.code == "image_unsupported"
    assert kind in error.message and "JPEG" in error.message


def test_other_image_formats_are_named():
    error = refused(encode(Image.new("RGB", (8, 8)), "TIFF"))
    assert error.code == "image_unsupported" and "TIFF" in error.message


def test_draft_mode_decodes_a_large_jpeg_at_a_reduced_scale():
    data = encode(Image.new("RGB", (1600, 1200), (90, 90, 90)), "JPEG")
    picture = decode(data, min_side=384)
    assert 384 <= min(picture.size) < 1200


def test_shrink_for_job_bounds_the_longer_side_and_keeps_orientation():
    tall = Image.new("RGB", (300, 1800), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 8
    shrunk = Image.open(io.BytesIO(shrink_for_job(encode(tall, "JPEG", exif=exif), MAX_BYTES, MAX_PIXELS, 768)))
    assert shrunk.format == "JPEG" and max(shrunk.size) == 768 and shrunk.width > shrunk.height
