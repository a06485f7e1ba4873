"""A synthetic caption data set in the original Flickr8k layout: one shape on a plain background.

Each picture holds a small or large circle, square, triangle or diamond of one colour, on the left or the
right of a background of another colour; its five captions say what is drawn, in five phrasings, so a
model that sees the shape, its colour, size and side can caption it word for word. It is the offline
proof that training works (a tiny BLIP from random weights learns it in minutes on a CPU) and the data
of the tests and the demo model.

    python -m captionbot.training.synthetic runs/shapes-data --images 1200
"""

import argparse
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from captionbot.training.data import SPLIT_FILES, TOKEN_FILE
from captionbot.training.splits import cut

COLOURS = {
    "red": (214, 39, 40),
    "green": (44, 160, 44),
    "blue": (31, 90, 220),
    "yellow": (245, 215, 30),
    "purple": (140, 60, 180),
    "orange": (250, 140, 20),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
SHAPES = ("circle", "square", "triangle", "diamond")
SIZES = {"small": 0.13, "large": 0.3}  # radius as a fraction of the picture's height
TEMPLATES = (
    "a {size} {colour} {shape} on a {background} background",
    "a {colour} {shape} on the {side} of a {background} background",
    "a {size} {colour} {shape} in front of a {background} background",
    "a {colour} {shape} on a {background} background",
    "there is a {size} {colour} {shape} on the {side}",
)
ARTICLE = re.compile(r"\ba (?=[aeiou])")  # "a orange" -> "an orange"


@dataclass(frozen=True)
class Scene:
    shape: str
    colour: str
    background: str
    size: str
    side: str

    def captions(self) -> list[str]:
        return [ARTICLE.sub("an ", template.format(**self.__dict__)) for template in TEMPLATES]


def random_scene(rng: random.Random) -> Scene:
    colour, background = rng.sample(list(COLOURS), 2)
    return Scene(rng.choice(SHAPES), colour, background, rng.choice(list(SIZES)), rng.choice(("left", "right")))


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int = 18) -> tuple[int, ...]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)


def draw(scene: Scene, width: int, height: int, rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (width, height), _jitter(COLOURS[scene.background], rng))
    pen = ImageDraw.Draw(image)
    radius = SIZES[scene.size] * height * rng.uniform(0.85, 1.15)
    x = width * (0.27 if scene.side == "left" else 0.73) + rng.uniform(-0.06, 0.06) * width
    y = height * rng.uniform(0.38, 0.62)
    fill = _jitter(COLOURS[scene.colour], rng)
    box = (x - radius, y - radius, x + radius, y + radius)
    if scene.shape == "circle":
        pen.ellipse(box, fill=fill)
    elif scene.shape == "square":
        pen.rectangle(box, fill=fill)
    elif scene.shape == "triangle":
        pen.polygon([(x, y - radius), (x + radius, y + radius), (x - radius, y + radius)], fill=fill)
    else:
        pen.polygon([(x, y - radius), (x + radius, y), (x, y + radius), (x - radius, y)], fill=fill)
    return image


def generate(output: Path | str, images: int = 1200, seed: int = 0, size: tuple[int, int] = (128, 96)) -> Path:
    """Write `images` pictures with five captions each, and the three split lists, under `output`."""
    output = Path(output)
    image_dir = output / "Flicker8k_Dataset"  # (sic), as in the release
    image_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    names, lines = [], []
    for index in range(images):
        scene = random_scene(rng)
        name = f"{index:05d}_shapes.jpg"
        draw(scene, *size, rng).save(image_dir / name, quality=92)
        names.append(name)
        lines += [f"{name}#{k}\t{caption} ." for k, caption in enumerate(scene.captions())]
    (output / TOKEN_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    _write_splits(output, names)
    return output


def _write_splits(output: Path, names: list[str]) -> None:
    parts, _ = cut(names)
    for split, file_name in SPLIT_FILES.items():
        (output / file_name).write_text("".join(name + "\n" for name in parts[split]), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m captionbot.training.synthetic", description=__doc__.split("\n")[0])
    parser.add_argument("output", type=Path, help="folder to write the data set into")
    parser.add_argument("--images", type=int, default=1200, help="number of pictures (default: 1200)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args(argv)
    generate(args.output, args.images, args.seed)
    print(f"Wrote {args.images} pictures with 5 captions each to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
