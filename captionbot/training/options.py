"""The flags of the training commands, defined once for `captionbot` and for each module's `main(argv)`, and
how `captionbot train`'s flags resolve: the recipe's defaults, or with --resume the run's own values.

Imports nothing heavy: `captionbot --help` must not load torch.
"""

import argparse
from pathlib import Path

from captionbot.blip.recipe import normalize_prompt
from captionbot.core.errors import UsageError
from captionbot.core.registry import TRAINING_CONFIG_FILE, read_json
from captionbot.core.settings import BLIP_PROMPT
from captionbot.training.picture_plan import CACHE_DIR, STORES

# The seed's recipe. Options left at None on the command line take these values, or, with --resume,
# the values of the run being resumed.
RECIPE = {
    "batch_size": 16,
    "grad_accum": 1,
    "lr": 5e-5,
    "weight_decay": 0.05,
    "warmup_steps": None,  # None: 5% of the optimizer steps
    "label_smoothing": 0.1,
    "max_tokens": 32,
    "precision": "auto",
    "seed": 0,
    "freeze_vision": False,
    "augment": True,
    "prompt": BLIP_PROMPT,
}
# What a run recorded before a recipe key existed: runs from before --prompt trained without one.
UNRECORDED = {"prompt": ""}
# How a run is run, not what it learns: left out, the defaults, or with --resume the run's own; given with
# --resume, the new value holds from there on.
SCHEDULE = {"eval_every": 1, "save_every": 1, "keep_checkpoints": 2, "early_stop": 0, "log_every": 10}
EPOCHS = 5
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
GENERATION_HELP = "the model's recorded decoding; BLIP's COCO captioner: 3 beams, 5 to 20 tokens with the prompt"
RANDOM_PREFIX = "random:"
RANDOM_SHAPES = ("tiny", "base")
BLIP_IMAGE_SIZE = 384


def _recipe(text: str, key: str) -> str:
    default = RECIPE[key]
    shown = {"warmup_steps": "5%% of the optimizer steps", "prompt": repr(BLIP_PROMPT)}.get(key, default)
    return f"{text} (default: {shown}; with --resume, the run's)"


def _schedule(text: str, key: str) -> str:
    return f"{text} (default: {SCHEDULE[key]}; with --resume, the run's)"


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, help="Flickr8k-layout data set folder (see `captionbot check-data`)")
    parser.add_argument(
        "--base",
        help="model to fine-tune: a Hub id or a save_pretrained folder (default: PRETRAINED_MODEL); "
        "`random:tiny` or `random:base` for random weights with a vocabulary of the training captions",
    )
    parser.add_argument("--output", type=Path, required=True, help="run folder: checkpoints, best/, metrics.jsonl")
    parser.add_argument("--epochs", type=int,
                        help=f"passes over the training pairs (default: {EPOCHS}; with --resume, the run's; more "
                        "than the run's extends it, its cosine schedule stretched to the new end)")
    parser.add_argument("--max-steps", type=int, metavar="N",
                        help="stop after N optimizer steps in all, the schedule decaying to zero there (default: "
                        "the epochs' steps; with --resume, the run's)")
    parser.add_argument("--batch-size", type=int, help=_recipe("(image, caption) pairs per micro-batch", "batch_size"))
    parser.add_argument("--grad-accum", type=int, help=_recipe("micro-batches per optimizer step", "grad_accum"))
    parser.add_argument("--lr", type=float, help=_recipe("peak AdamW learning rate", "lr"))
    parser.add_argument("--weight-decay", type=float, help=_recipe("AdamW weight decay of matrices", "weight_decay"))
    parser.add_argument("--warmup-steps", type=int, help=_recipe("linear warmup before cosine decay", "warmup_steps"))
    parser.add_argument("--label-smoothing", type=float, help=_recipe("of the decoder loss", "label_smoothing"))
    parser.add_argument("--max-tokens", type=int,
                        help=_recipe("caption tokens kept, [DEC] and [SEP] included", "max_tokens"))
    parser.add_argument("--precision", choices=PRECISIONS,
                        help=_recipe("auto: bf16 (else fp16) autocast on a GPU, fp32 on the CPU", "precision"))
    parser.add_argument("--seed", type=int, help=_recipe("shuffling, augmentation and random weights", "seed"))
    parser.add_argument("--freeze-vision", action=argparse.BooleanOptionalAction,
                        help=_recipe("train the text decoder only", "freeze_vision"))
    parser.add_argument("--prompt", help=_recipe("text every caption is trained and decoded after, masked out of "
                                                 "the loss and cut from captions, as BLIP's captioner; \"\" for none",
                                                 "prompt"))
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction,
                        help=_recipe("random crop, flip (unless the caption says left/right), colour jitter "
                                     "without hue", "augment"))
    parser.add_argument("--eval-every", type=int, metavar="N",
                        help=_schedule("caption the val split and score it every N epochs, and after the last",
                                       "eval_every"))
    parser.add_argument("--save-every", type=int, metavar="N",
                        help=_schedule("write a resumable checkpoint every N epochs, and after the last",
                                       "save_every"))
    parser.add_argument("--keep-checkpoints", type=int, metavar="K",
                        help=_schedule("keep the K newest epoch checkpoints; best/ is always kept",
                                       "keep_checkpoints"))
    parser.add_argument("--early-stop", type=int, metavar="N",
                        help=_schedule("stop after N evaluations without a better val CIDEr; 0: never", "early_stop"))
    parser.add_argument("--resume", nargs="?", const="latest", metavar="CHECKPOINT",
                        help="continue a run exactly: from the newest checkpoint in --output, or the one named")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--workers", type=int, help="data loader processes (default: 0 on the CPU, up to 8 on a GPU)")
    add_picture_store_arguments(parser)
    parser.add_argument("--log-every", type=int, metavar="N",
                        help=_schedule("write the training loss to metrics.jsonl every N optimizer steps",
                                       "log_every"))
    parser.add_argument("--report-to", default="none", metavar="TRACKERS",
                        help="also send the history to none, or a comma list of tensorboard (RUN/tensorboard), mlflow "
                        "(MLFLOW_TRACKING_URI), wandb (WANDB_MODE=offline for no account) (default: none)")


def add_picture_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--picture-store", choices=STORES, default="auto",
                        help="where decoded pictures wait for their batch: memory; disk (a memory-mapped file, "
                        "written once and reused by later runs over the same images and size); decode (each "
                        "step, in the loader workers); auto: memory while they fit a quarter of RAM, else disk "
                        "while it has room, else decode (default: auto; `captionbot check-data` says which)")
    parser.add_argument("--picture-dir", type=Path, metavar="DIR",
                        help=f"folder of the disk picture stores (default: DATA/{CACHE_DIR})")


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model to caption with: a save_pretrained folder or a Hub id")
    parser.add_argument("--data", type=Path, help="data set whose split --model captions")
    parser.add_argument("--split", choices=("train", "val", "test"), default="test",
                        help="split to score (default: test)")
    parser.add_argument("--limit", type=int, metavar="N", help="score the first N images of the split only")
    parser.add_argument("--predictions", type=Path, metavar="P.json",
                        help='captions to score instead: [{"image_id": "<file name>", "caption": "..."}]')
    parser.add_argument("--references", type=Path, metavar="R",
                        help="reference captions for --predictions: a data set folder or caption file in any layout")
    parser.add_argument("--save-predictions", type=Path, metavar="P.json", help="write --model's captions here")
    parser.add_argument("--json", action="store_true", help="print one JSON object of the scores")
    add_captioning_arguments(parser)


def add_captioning_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=16, help="images per generate call (default: 16)")
    parser.add_argument("--beams", type=int, help=f"beams (default: {GENERATION_HELP})")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="weights' precision: auto is bf16 (else fp16) on a GPU, fp32 on the CPU (default: auto)")


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a `captionbot train --output` folder")
    parser.add_argument("--baseline", help="model to compare with (default: the run's base model; `none` to skip)")
    parser.add_argument("--data", type=Path, help="data set of the test images (default: the run's)")
    parser.add_argument("--output", type=Path, help="report folder (default: RUN_DIR/report)")
    parser.add_argument("--limit", type=int, metavar="N", help="compare on the first N test images only")
    parser.add_argument("--samples", type=int, default=8, help="test images in the caption grid (default: 8)")
    add_captioning_arguments(parser)


def add_publish_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, metavar="RUN_DIR/best",
                        help="a save_pretrained folder written by `captionbot train`")
    parser.add_argument("--version", help="version name (default: the run folder's name and the time)")
    parser.add_argument("--activate", action="store_true",
                        help="make it the live version (CURRENT); workers reload when RELOAD_ON_PUBLISH is set")
    parser.add_argument("--test-scores", type=Path, metavar="FILE",
                        help="record test-split scores with the version: the JSON `captionbot evaluate --split test "
                             "--json` prints; the quality gate compares their CIDEr")
    parser.add_argument("--force", action="store_true",
                        help="with --activate: make it live even if its CIDEr is below the live version's")
    parser.add_argument("--model-dir", help="registry root, a folder or s3://bucket/prefix (default: MODEL_DIR)")


def add_check_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, metavar="DIR", help="a data set folder in a Flickr8k layout")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--image-size", type=int, default=BLIP_IMAGE_SIZE, metavar="PX",
                        help=f"the model's input side, for the picture store's size (default: {BLIP_IMAGE_SIZE}, "
                        "BLIP's)")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=RECIPE["augment"],
                        help="whether training will augment (its pictures are kept larger) (default: on)")
    add_picture_store_arguments(parser)


def is_random(base: str) -> bool:
    return base.startswith(RANDOM_PREFIX)


def resolve_train_args(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the recipe's defaults (with --resume: the run's own values) and check flag combinations."""
    previous: dict = {}
    if args.resume:
        args.resume = find_checkpoint(args.output, args.resume)
        previous = read_json(args.resume / TRAINING_CONFIG_FILE)
    recorded = previous.get("recipe", {})
    if args.prompt is not None:
        args.prompt = normalize_prompt(args.prompt)  # "a picture of" is "a picture of "
    for key, default in RECIPE.items():
        before = recorded.get(key, UNRECORDED.get(key, default)) if previous else default
        given = getattr(args, key)
        if previous and given is not None and given != before:
            flag = "--" + key.replace("_", "-")
            raise UsageError(f"{flag} {given!r} differs from the resumed run's {before!r}; --resume continues a run as "
                             f"it was configured: leave {flag} out, or train into a new --output")
        setattr(args, key, before if given is None else given)
    for key, default in SCHEDULE.items():
        if getattr(args, key) is None:
            setattr(args, key, previous.get(key, default))
    if args.max_steps is None:
        args.max_steps = previous.get("max_steps")  # the schedule's end, as the run had it
    if args.epochs is None:
        args.epochs = previous.get("epochs") or recorded.get("epochs") or EPOCHS
    args.data = args.data or (Path(previous["data"]) if previous else None)
    args.base = args.base or previous.get("base")
    if args.base is None:
        from captionbot.core.settings import get_settings

        args.base = get_settings().pretrained_model
    check_train_args(args)
    from captionbot.training.tracking import parse_report_to

    args.report_to = parse_report_to(args.report_to) if isinstance(args.report_to, str) else list(args.report_to)
    return args


def check_train_args(args: argparse.Namespace) -> None:
    if args.data is None:
        raise UsageError("--data is required (a data set folder, see `captionbot check-data`), unless --resume "
                         "continues a run")
    positive = ("epochs", "batch_size", "grad_accum", "max_tokens", "eval_every", "save_every", "log_every",
                "keep_checkpoints")
    for key in positive:
        if getattr(args, key) < 1:
            raise UsageError(f"--{key.replace('_', '-')} must be 1 or more")
    if args.max_steps is not None and args.max_steps < 1:
        raise UsageError("--max-steps must be 1 or more")
    if args.lr <= 0 or args.weight_decay < 0 or (args.warmup_steps or 0) < 0 or args.early_stop < 0:
        raise UsageError("--lr must be above 0, and --weight-decay, --warmup-steps and --early-stop 0 or more")
    if not 0 <= args.label_smoothing < 1:
        raise UsageError("--label-smoothing must be from 0 up to (not including) 1")
    if is_random(args.base) and args.base.removeprefix(RANDOM_PREFIX) not in RANDOM_SHAPES:
        raise UsageError(f"--base {args.base}: use {' or '.join(RANDOM_PREFIX + s for s in RANDOM_SHAPES)}")
    if args.precision == "fp16":
        from captionbot.blip.devices import pick_device

        if pick_device(args.device).type != "cuda":
            raise UsageError("--precision fp16 needs a CUDA GPU; use --precision bf16 or fp32 on the CPU")


def find_checkpoint(output: Path, resume: str | Path) -> Path:
    from captionbot.training.checkpoint import TRAINER_STATE, epoch_checkpoints

    if resume != "latest":
        if not (Path(resume) / TRAINER_STATE).is_file():
            raise UsageError(f"--resume {resume} is not a checkpoint-epoch-N folder (it has no {TRAINER_STATE})")
        return Path(resume)
    found = epoch_checkpoints(output)
    if not found:
        raise UsageError(f"--resume found no checkpoint-epoch-N folder in {output}; name one with --resume PATH")
    return found[-1][1]
