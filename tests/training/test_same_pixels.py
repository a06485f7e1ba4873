"""One preprocessing path (`blip/pixels.py`): the same image file gives the same pixels in serving, in the
validation during training and in `evaluate`; and the captions `evaluate --save-predictions` writes are the
captions `captionbot caption` gives for the same checkpoint, images and beams."""

import json
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from captionbot.cli import main as cli
from captionbot.blip.loading import ModelSource, captioner, load_model, load_pretrained
from captionbot.blip.pixels import model_picture
from captionbot.blip.recipe import Decoding
from captionbot.blip.tensors import to_pixel_values
from captionbot.core.settings import Settings, get_settings
from captionbot.training.captioning import caption_files, file_pixel_values
from captionbot.training.data import load_data
from captionbot.training.dataset import PlainPictures, plain, read_model_picture
from captionbot.training.picture_store import in_memory
from captionbot.training.train import parse_args
from captionbot.training.trainer import Trainer


def photo(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(sum(size))
    pixels = rng.integers(0, 255, (size[1], size[0], len(mode)), dtype=np.uint8)
    return Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)


def odd_images(folder: Path) -> list[Path]:
    """A large JPEG (decoded in draft mode), an EXIF-rotated JPEG, a transparent PNG, grey, a palette GIF."""
    folder.mkdir()
    photo((1600, 1200)).save(folder / "large.jpg", quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    photo((120, 80)).save(folder / "rotated.jpg", exif=exif.tobytes())
    photo((90, 70), "RGBA").save(folder / "transparent.png")
    photo((50, 200), "L").save(folder / "grey.png")
    photo((64, 48)).convert("P").save(folder / "palette.gif")
    return sorted(folder.iterdir())


def served_pixels(paths: list[Path], model_dir: Path) -> torch.Tensor:
    """What the worker's engine makes of the same bytes: `model_picture` at intake, `to_pixel_values` per batch."""
    served = load_model("finetuned", ModelSource(str(model_dir), "v"), torch.device("cpu"), torch.float32)
    limits = Settings(_env_file=None)
    pictures = [model_picture(p.read_bytes(), served.spec, limits.max_image_bytes, limits.max_image_pixels)
                for p in paths]
    return to_pixel_values(pictures, served.spec, served.device, served.dtype)


def test_the_same_files_give_the_same_pixels_in_serving_validation_and_evaluate(tiny_run: Path, tmp_path: Path):
    best = tiny_run / "best"
    spec = load_model("finetuned", ModelSource(str(best), "v"), torch.device("cpu"), torch.float32).spec
    paths = odd_images(tmp_path / "odd")
    validation = PlainPictures(in_memory(paths, partial(read_model_picture, spec=spec)), plain(spec))
    validated = torch.stack([validation[i] for i in range(len(paths))])
    served, evaluated = served_pixels(paths, best), file_pixel_values(paths, spec)
    assert served.shape == (len(paths), 3, spec.size, spec.size)
    assert torch.equal(served, validated) and torch.equal(served, evaluated)
    assert not torch.equal(served[0], served[1])  # the images differ, so the comparison can tell


def test_the_trainers_val_split_is_served_pixels(tiny_run: Path, shapes_data: Path) -> None:
    best = tiny_run / "best"
    args = parse_args(["--data", str(shapes_data), "--output", str(tiny_run / "unused"), "--base", str(best)])
    trainer = Trainer(args, *load_pretrained(best), load_data(shapes_data), torch.device("cpu"))
    paths = trainer.val_pictures.store.paths
    validated = torch.stack([trainer.val_pictures[i] for i in range(len(paths))])
    assert torch.equal(validated, served_pixels(paths, best))
    assert torch.equal(torch.stack([trainer.val_pairs[(0, 0)][0]]), validated[:1])  # validation loss: the same


@pytest.fixture()
def serving_env(monkeypatch: pytest.MonkeyPatch, tiny_checkpoint: Path, tiny_run: Path, tmp_path: Path):
    monkeypatch.setenv("PRETRAINED_MODEL", str(tiny_checkpoint))
    monkeypatch.setenv("FINETUNED_MODEL", str(tiny_run / "best"))
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("DEVICE", "cpu")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("beams", [[], ["--beams", "1"]], ids=["default beams", "greedy"])
def test_evaluate_saves_the_captions_captionbot_caption_gives(serving_env, tiny_run: Path, shapes_data: Path,
                                                              tmp_path: Path, capsys, beams: list[str]) -> None:
    saved = tmp_path / "predictions.json"
    assert cli(["evaluate", "--model", str(tiny_run / "best"), "--data", str(shapes_data), "--split", "test",
                "--save-predictions", str(saved), "--device", "cpu", "--json", *beams]) == 0
    evaluated = {entry["image_id"]: entry["caption"] for entry in json.loads(saved.read_text())}
    capsys.readouterr()
    paths = [e.path for e in load_data(shapes_data).splits["test"]]
    assert cli(["caption", "--json", *beams, *map(str, paths)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    served = {Path(line["image"]).name: line["results"]["finetuned"]["captions"][0] for line in lines}
    assert served == evaluated and len(served) == len(paths)
    # The check has teeth: decoded without the prompt it was trained with, the same model says other things.
    model, processor = load_pretrained(tiny_run / "best")
    unprompted_model = captioner("unprompted", "v", model, processor, Decoding(prompt=""), torch.device("cpu"))
    unprompted = caption_files(unprompted_model, paths, beams=int(beams[1]) if beams else None)
    assert dict(zip((p.name for p in paths), unprompted)) != served
