"""Image intake shared by every entry point: check from the header, then decode to a plain RGB picture.

Pillow only (no torch): the bots use it to refuse bad files and shrink good ones before a job is queued,
the worker to decode what it receives.

Memory is bounded for files made to hurt (a 220 KB PNG can decode to 7000×7000 RGBA, 196 MB): the pixel
count is checked from the header before anything is decoded; decoding is reduced as early as the format
allows (JPEG in draft mode, every other format reduced by a whole factor right after it is decoded, before
alpha is composited or colours converted, so no full-size copy is ever made); and a process decodes on
IMAGE_DECODES_AT_ONCE threads of its own, so a message of eight such files holds one full decode at a time
(by default), not eight; the full-size pixels are freed on that thread before it takes the next file.
"""

import io
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from captionbot.core.errors import (
    ACCEPTED_IMAGES,
    ImageCorrupt,
    ImageEmpty,
    ImageTooLarge,
    ImageTooManyPixels,
    ImageUnsupported,
)
from captionbot.core.per_process import PerProcess
from captionbot.core.settings import get_settings

FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
MIME_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")  # file names of the FORMATS
_WHITE = (255, 255, 255)
# Modes `Image.reduce` takes; palette, bilevel and 16-bit pictures are sampled down first (see `_reduced`).
_REDUCIBLE = frozenset({"L", "LA", "PA", "La", "RGB", "RGBA", "RGBa", "I", "F", "CMYK", "YCbCr"})
BAND_ROWS = 64  # output rows reduced at a time


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    frames: int


def human_size(n_bytes: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    raise AssertionError("unreachable")


def check_size(n_bytes: int, max_bytes: int) -> None:
    """Refuse by byte count alone: usable on a platform's metadata before any download."""
    if n_bytes <= 0:
        raise ImageEmpty()
    if n_bytes > max_bytes:
        raise ImageTooLarge(
            f"That file is {human_size(n_bytes)}, over the {human_size(max_bytes)} limit; send a smaller image."
        )


def check_pixels(width: int | None, height: int | None, max_pixels: int) -> None:
    """Refuse by pixel count alone: usable on a platform's metadata (width, height) before any download."""
    if width and height and width * height > max_pixels:
        raise ImageTooManyPixels(_pixels_message(max_pixels, width, height))


def _open(data: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    """Open lazily (header only) and check size and pixel count before anything is decoded."""
    check_size(len(data), max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        raise ImageTooManyPixels(_pixels_message(max_pixels)) from err
    except UnidentifiedImageError as err:
        raise ImageUnsupported(_unsupported_message(data)) from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageCorrupt() from err
    check_pixels(image.width, image.height, max_pixels)
    return image


def _pixels_message(max_pixels: int, width: int = 0, height: int = 0) -> str:
    megapixels = max_pixels / 1e6
    what = f"That image is {width}×{height} pixels" if width else "That image has too many pixels"
    return f"{what}, over the {megapixels:.0f} megapixel limit; send a smaller image."


def _unsupported_message(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in data[:4096].lower()):
        kind = "an SVG drawing"
    elif head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        kind = "a web page"
    elif head.startswith(b"%pdf"):
        kind = "a PDF document"
    else:
        kind = _other_image_format(data) or "not an image"
    return f"That file is {kind}; send a {ACCEPTED_IMAGES} file."


def _other_image_format(data: bytes) -> str | None:
    try:
        with Image.open(io.BytesIO(data)) as other:
            return f"a {other.format} image, which is not supported"
    except Exception:
        return None


def inspect_image(data: bytes, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Check a file from its header: format, size, pixel count. Raises an `ImageRejected` subclass."""
    with _open(data, max_bytes, max_pixels) as image:
        return ImageInfo(image.format or "", image.width, image.height, getattr(image, "n_frames", 1))


def decode_image(data: bytes, max_bytes: int, max_pixels: int, min_side: int | None = None) -> Image.Image:
    """Decode to an upright RGB image: first frame, EXIF orientation applied, transparency on white.

    With `min_side`, decoded as small as the format allows while both sides still cover it (or keep their
    own length, where shorter): JPEGs in draft mode, other formats reduced by a whole factor.
    """
    return _decode(data, max_bytes, max_pixels, min_side, by_longer=False)


# The process's decoding threads, made at the first decode, and made afresh in a forked child (a DataLoader
# worker forked after its parent decoded would otherwise wait forever on a pool without threads).
_decoder: PerProcess[ThreadPoolExecutor] = PerProcess(
    lambda: ThreadPoolExecutor(get_settings().image_decodes_at_once, thread_name_prefix="decode")
)


def _decode(data: bytes, max_bytes: int, max_pixels: int, side: int | None, *, by_longer: bool) -> Image.Image:
    """`side` bounds the shorter side from below, or with `by_longer` the longer one (the aspect is kept).
    The header is read on the caller's thread; the pixels on one of the process's decoding threads."""
    image = _open(data, max_bytes, max_pixels)
    try:
        return _decoder.get().submit(_decode_pixels, image, side, by_longer).result()
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageCorrupt() from err
    finally:
        image.close()


def _decode_pixels(image: Image.Image, side: int | None, by_longer: bool) -> Image.Image:
    """Decode, reduce, then free the full-size pixels here, before this thread takes the next file."""
    try:
        if side and image.format == "JPEG":
            factor = _factor(image.size, side, by_longer)
            image.draft("RGB", (image.width // factor, image.height // factor))
        image.seek(0)
        image.load()
        small = _reduced(image, _factor(image.size, side, by_longer) if side else 1)
        if small is not image:
            image.close()
        return to_rgb(ImageOps.exif_transpose(small))
    finally:
        image.close()


def _factor(size: tuple[int, int], side: int, by_longer: bool) -> int:
    """The largest whole factor that keeps the bounding side at least `side`."""
    return max(1, (max(size) if by_longer else min(size)) // side)


def _reduced(image: Image.Image, factor: int) -> Image.Image:
    """Shrink by a whole factor with a box filter (alpha-weighted), before any full-size copy. Palette,
    bilevel and 16-bit pictures, which `reduce` does not take, are first sampled down (nearest) to about
    twice the target and converted there."""
    if factor < 2:
        return image
    if image.mode not in _REDUCIBLE:
        step = factor // 2
        if step > 1:
            image = image.resize((image.width // step, image.height // step), Image.Resampling.NEAREST)
            factor //= step
        image = to_rgb(image)
    return _reduce_in_bands(image, factor) if factor > 1 else image


def _reduce_in_bands(image: Image.Image, factor: int) -> Image.Image:
    """`Image.reduce` a band of rows at a time: it premultiplies alpha on a copy of what it is given, and a
    copy of a band is small where a copy of the whole picture would double the decode."""
    reduced = Image.new(image.mode, (image.width // factor, image.height // factor))
    band = factor * BAND_ROWS
    for top in range(0, reduced.height * factor, band):
        rows = image.crop((0, top, reduced.width * factor, min(top + band, reduced.height * factor)))
        reduced.paste(rows.reduce(factor), (0, top // factor))
    reduced.info = dict(image.info)  # EXIF orientation travels with the pixels
    return reduced


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB: palette and alpha composited on white, 16-bit scaled, CMYK converted."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        image = image.point(lambda value: value / 256).convert("L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _WHITE + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode == "F":
        image = image.convert("L")
    return image.convert("RGB") if image.mode != "RGB" else image


def shrink_for_job(data: bytes, max_bytes: int, max_pixels: int, side: int) -> bytes:
    """What a bot queues: the upright RGB picture, its longer side at most `side`, as a JPEG.

    A 12 MP phone photo becomes a JPEG of a few hundred KB at most; the worker decodes it far faster.
    """
    image = _decode(data, max_bytes, max_pixels, side, by_longer=True)
    if max(image.size) > side:
        image.thumbnail((side, side), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()
