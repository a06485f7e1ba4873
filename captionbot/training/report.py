"""`captionbot report RUN_DIR`: a Markdown report with plots of a training run.

Loss curves and validation metrics from metrics.jsonl; then the test split captioned by the base model and
by RUN_DIR/best, scored side by side, with a grid of test images and both models' captions.
"""

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from captionbot.blip.recipe import recorded_decoding
from captionbot.core.registry import TRAINING_CONFIG_FILE, read_json
from captionbot.core.settings import get_settings
from captionbot.training.checkpoint import BEST
from captionbot.training.data import DataError, Example
from captionbot.training.evaluate import caption_examples, check_captioning_args, split_examples
from captionbot.training.history import FILE as HISTORY_FILE
from captionbot.training.history import read_history
from captionbot.training.metrics import METRICS, score
from captionbot.training.options import RANDOM_PREFIX, add_report_arguments
from captionbot.training.plots import comparison_plot, loss_plot, metrics_plot, samples_grid


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="captionbot report", description=__doc__.splitlines()[0])
    add_report_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


def command(args: argparse.Namespace) -> int:
    check_captioning_args(args)
    return run(args)


def baseline_model(args: argparse.Namespace, config: dict) -> str | None:
    if args.baseline and args.baseline.lower() == "none":
        return None
    return args.baseline or config.get("base_model")


def baseline_label(args: argparse.Namespace, config: dict) -> str:
    if args.baseline:
        return "baseline"
    return "random init" if str(config.get("base", "")).startswith(RANDOM_PREFIX) else "pretrained"


def test_models(args: argparse.Namespace, config: dict) -> dict[str, str]:
    """label -> model: the baseline (unless `none`), then the run's best/."""
    models = {"fine-tuned": str(args.run_dir / BEST)}
    baseline = baseline_model(args, config)
    return {baseline_label(args, config): baseline, **models} if baseline else models


def compare_on_test(args: argparse.Namespace, config: dict, out: Path) -> tuple[dict, list[Example], dict]:
    """Caption the test split with the baseline and the fine-tuned model; their scores and captions."""
    examples = split_examples(Path(args.data or config["data"]), "test", args.limit)
    models = test_models(args, config)
    references = {e.image: list(e.captions) for e in examples}
    predictions = {label: caption_examples(model, examples, args.batch_size, args.beams, args.device, args.precision)
                   for label, model in models.items()}
    scores = {label: score(references, captions) for label, captions in predictions.items()}
    decodings = {label: decoding_line(model, args.beams) for label, model in models.items()}
    (out / "test_scores.json").write_text(json.dumps({"models": models, "decoding": decodings, "scores": scores,
                                                      "predictions": predictions}, indent=1) + "\n", encoding="utf-8")
    return scores, examples, predictions


def decoding_line(model: str, beams: int | None) -> str:
    """How a model was decoded for the report: each as it records (the base model: BLIP's, CAPTION_PROMPT)."""
    decoding = recorded_decoding(model, get_settings().caption_prompt).decoding
    return (f"prompt {decoding.prompt!r}, {beams or decoding.beams} beams, "
            f"{decoding.min_length} to {decoding.max_length} tokens with the prompt")


def run(args: argparse.Namespace) -> int:
    run_dir = args.run_dir
    config = read_json(run_dir / TRAINING_CONFIG_FILE)
    if not config:
        raise DataError(f"{run_dir} has no {TRAINING_CONFIG_FILE}; pass the --output folder of `captionbot train`.")
    history = read_history(run_dir / HISTORY_FILE)
    out = args.output or run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    loss_plot(history, out / "loss.png")
    metrics_plot(history, out / "val_metrics.png")
    sections = [summary_section(run_dir, config, history), history_section(history)]
    if (run_dir / BEST / "config.json").is_file():
        scores, examples, predictions = compare_on_test(args, config, out)
        comparison_plot(scores, out / "test_metrics.png")
        samples = [(e.path, {label: captions[e.image] for label, captions in predictions.items()}, e.captions[0])
                   for e in examples[: args.samples]]
        samples_grid(samples, out / "samples.png")
        decodings = {label: decoding_line(model, args.beams) for label, model in test_models(args, config).items()}
        sections.append(test_section(scores, decodings, len(examples), args.limit, baseline_model(args, config)))
    else:
        sections.append(f"No `{BEST}/` in {run_dir} yet: the test comparison comes once a run has been evaluated.\n")
    (out / "report.md").write_text("\n".join(sections), encoding="utf-8")
    print(f"Wrote {out / 'report.md'}")
    return 0


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def summary_section(run_dir: Path, config: dict, history: list[dict]) -> str:
    epochs = [r for r in history if r["kind"] == "epoch"]
    evals = [r for r in history if r["kind"] == "eval"]
    best = max(evals, key=lambda r: r["CIDEr"], default=None)
    recipe = config.get("recipe", {})
    rows = [("data", f"{config.get('data')} ({config.get('data_format')})"), ("base", config.get("base")),
            ("epochs trained", len(epochs)), ("optimizer steps", epochs[-1]["step"] if epochs else 0),
            ("best val CIDEr", f"{best['CIDEr']:.4f} at epoch {best['epoch']}" if best else "n/a")]
    rows += [(key, value) for key, value in recipe.items()]
    splits = config.get("splits", {})
    split_line = ", ".join(f"{name} {s['images']} images / {s['captions']} captions" for name, s in splits.items())
    return (f"# Training report: {run_dir.name}\n\n{split_line}\n\n" + _table(("setting", "value"), rows)
            + "\n## Loss\n\n![loss](loss.png)\n")


def history_section(history: list[dict]) -> str:
    evals = [r for r in history if r["kind"] == "eval"]
    names = [m for m in METRICS if any(m in r for r in evals)]
    table = _table(["epoch", "step", *names], [[r["epoch"], r["step"], *(r.get(m) for m in names)] for r in evals])
    return "## Validation metrics per evaluation\n\n![validation metrics](val_metrics.png)\n\n" + table


def test_section(scores: dict[str, dict], decodings: dict[str, str], images: int, limit: int | None,
                 baseline: str | None) -> str:
    rows = [[label, *(values.get(m) for m in METRICS)] for label, values in scores.items()]
    decoded = "; ".join(f"{label}: {line}" for label, line in decodings.items())
    subset = (" These are the first images of the split only: CIDEr's IDF comes from the references scored, so "
              "it is not comparable with a full split's." if limit else "")
    who = f"Base model: `{baseline}`. " if baseline else ""
    return (f"## Test split: before and after fine-tuning\n\n{who}{images} test images, beam search, each model "
            f"decoded as it was trained to be ({decoded})."
            f"{subset}\n\n" + _table(["model", *METRICS], rows)
            + "\n![test metrics](test_metrics.png)\n\n## Sample captions\n\n![samples](samples.png)\n")
