"""The sample photos the web page offers: the ones scikit-image ships (the `demo` extra), found without
importing it. Without scikit-image the page simply offers none."""

import importlib.util
from pathlib import Path

# name -> what it shows (the thumbnail's alt text); licences in the README's "Sample photos".
SAMPLE_TITLES = {
    "astronaut.png": "An astronaut in a spacesuit, with a flag",
    "chelsea.png": "A tabby cat",
    "coffee.png": "A cup of coffee on a saucer",
    "rocket.jpg": "A rocket on its launch pad",
    "motorcycle_left.png": "A motorcycle in a workshop",
}
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg"}


def sample_folder() -> Path | None:
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "data"


def sample_paths() -> dict[str, Path]:
    """The sample photos present here, by name."""
    folder = sample_folder()
    if folder is None:
        return {}
    return {name: folder / name for name in SAMPLE_TITLES if (folder / name).is_file()}
