"""`captionbot evaluate`: score a model on a split, or given predictions against references.

    captionbot evaluate --model runs/flickr8k/best --data DATA --split test
    captionbot evaluate --predictions preds.json --references DATA --json

Predictions are in the COCO results format with file names as ids: [{"image_id": "x.jpg", "caption": "..."}].
"""

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from captionbot.core.errors import UsageError
from captionbot.training.data import DataError, Example, load_data, read_captions
from captionbot.training.metrics import METRICS, score
from captionbot.training.options import add_evaluate_arguments

log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="captionbot evaluate", description=__doc__.splitlines()[0])
    add_evaluate_arguments(parser)
    args = parser.parse_args(argv)
    try:
        check_args(args)
    except UsageError as err:
        parser.error(str(err))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


def command(args: argparse.Namespace) -> int:
    """`captionbot evaluate`: flags parsed by the CLI's parser; bad combinations raise UsageError."""
    check_args(args)
    return run(args)


def check_args(args: argparse.Namespace) -> None:
    if args.predictions and args.model:
        raise UsageError("--predictions scores given captions, --model makes them: pass one of the two")
    if args.predictions and not args.references:
        raise UsageError("--predictions needs --references (a data set folder or caption file)")
    if args.model and not args.data:
        raise UsageError("--model needs --data, the data set whose --split it captions")
    if not args.predictions and not args.model:
        raise UsageError("pass --model and --data to caption a split, or --predictions and --references")
    if args.save_predictions and not args.model:
        raise UsageError("--save-predictions writes --model's captions; it needs --model")
    check_captioning_args(args)


def check_captioning_args(args: argparse.Namespace) -> None:
    if args.beams is not None and not 1 <= args.beams <= 10:
        raise UsageError("--beams must be from 1 to 10")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be 1 or more")


def read_predictions(path: Path) -> dict[str, str]:
    """COCO results: a list of {"image_id", "caption"}, one per image."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        predictions: dict[str, str] = {}
        for entry in entries:
            image = str(entry["image_id"])
            if image in predictions:
                raise DataError(f"{path} has two captions for '{image}'; keep one per image.")
            predictions[image] = str(entry["caption"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        expected = '{"image_id": "<file name>", "caption": "..."}'
        raise DataError(f"{path} is not a list of {expected} objects ({err}).") from err
    return predictions


def write_predictions(path: Path, predictions: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [{"image_id": image, "caption": caption} for image, caption in predictions.items()]
    path.write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")


def caption_examples(model_name: str, examples: list[Example], batch_size: int = 16, beams: int | None = None,
                     device: str = "auto", precision: str = "auto") -> dict[str, str]:
    """Caption the examples' files with a model, decoded as it records (its prompt; else CAPTION_PROMPT),
    in bf16/fp16 on a GPU, with batched beam search."""
    from captionbot.blip.devices import pick_device, pick_dtype
    from captionbot.blip.loading import ModelSource, load_model
    from captionbot.core.settings import get_settings
    from captionbot.training.captioning import caption_files

    chosen = pick_device(device)
    source = ModelSource(str(model_name), str(model_name), get_settings().caption_prompt)
    loaded = load_model("evaluated", source, chosen, pick_dtype(chosen, precision))
    with tqdm(total=len(examples), desc=f"captioning with {model_name}", unit="img", disable=None, leave=False) as bar:
        captions = caption_files(loaded, [e.path for e in examples], batch_size, beams, progress=bar)
    return dict(zip((e.image for e in examples), captions))


def split_examples(data_dir: Path, split: str, limit: int | None) -> list[Example]:
    examples = load_data(data_dir).splits[split][:limit]
    if not examples:
        raise DataError(f"The {split} split of {data_dir} has no images.")
    return examples


def run(args: argparse.Namespace) -> int:
    if args.model:
        examples = split_examples(args.data, args.split, args.limit)
        predictions = caption_examples(args.model, examples, args.batch_size, args.beams, args.device, args.precision)
        references = {e.image: list(e.captions) for e in examples}
        if args.save_predictions:
            write_predictions(args.save_predictions, predictions)
    else:
        predictions = read_predictions(args.predictions)
        references = read_captions(args.references).captions
        missing = sorted(set(predictions) - set(references))
        if missing:
            raise DataError(f"{len(missing)} predicted images have no references in {args.references}, "
                            f"e.g. '{missing[0]}'.")
    scores = score(references, predictions)
    print(json.dumps(scores) if args.json else format_scores(scores, len(predictions)))
    return 0


def format_scores(scores: dict[str, float | None], images: int) -> str:
    lines = [f"{images} images"]
    for name in METRICS:
        value = scores.get(name)
        lines.append(f"{name:<8} {'n/a (needs Java)' if value is None else f'{value:.4f}'}")
    return "\n".join(lines)
