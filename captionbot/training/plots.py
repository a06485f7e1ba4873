"""The report's figures, drawn with matplotlib's object API (no pyplot state, no display needed)."""

import textwrap
from pathlib import Path

from matplotlib.figure import Figure
from PIL import Image

BAR_METRICS = ("BLEU-1", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr")
LINE_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L")


def loss_plot(history: list[dict], path: Path) -> Path:
    """Training loss per logged step and per epoch, validation loss per epoch, against optimizer steps."""
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.add_subplot()
    logged = [r for r in history if r["kind"] == "train"]
    epochs = [r for r in history if r["kind"] == "epoch"]
    if logged:
        axes.plot([r["step"] for r in logged], [r["loss"] for r in logged], color="0.7", lw=1, label="train (logged)")
    if epochs:
        steps = [r["step"] for r in epochs]
        axes.plot(steps, [r["train_loss"] for r in epochs], "o-", label="train (epoch mean)")
        axes.plot(steps, [r["val_loss"] for r in epochs], "s-", label="validation")
    axes.set(xlabel="optimizer step", ylabel="cross-entropy", title="Loss (train with label smoothing, val without)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=110)
    return path


def metrics_plot(history: list[dict], path: Path) -> Path:
    """Val BLEU-n and ROUGE-L (left axis) and CIDEr (right axis) at each evaluation."""
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.add_subplot()
    evals = [r for r in history if r["kind"] == "eval"]
    epochs = [r["epoch"] for r in evals]
    for name in LINE_METRICS:
        axes.plot(epochs, [r.get(name) for r in evals], "o-", label=name)
    cider = axes.twinx()
    cider.plot(epochs, [r.get("CIDEr") for r in evals], "k^--", label="CIDEr (right)")
    axes.set(xlabel="epoch", ylabel="score", title="Validation metrics per evaluation")
    cider.set_ylabel("CIDEr")
    lines = axes.get_legend_handles_labels()
    more = cider.get_legend_handles_labels()
    axes.legend(lines[0] + more[0], lines[1] + more[1], fontsize="small", loc="lower right")
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=110)
    return path


def comparison_plot(scores: dict[str, dict[str, float | None]], path: Path) -> Path:
    """Grouped bars: each model's test scores, one group per metric (missing METEOR left out)."""
    names = [m for m in BAR_METRICS if all(s.get(m) is not None for s in scores.values())]
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(scores))
    for offset, (label, values) in enumerate(scores.items()):
        positions = [i + (offset - (len(scores) - 1) / 2) * width for i in range(len(names))]
        bars = axes.bar(positions, [values[m] for m in names], width, label=label)
        axes.bar_label(bars, fmt="%.3f", fontsize="x-small")
    axes.set_xticks(range(len(names)), names)
    axes.set(ylabel="score (CIDEr unscaled)", title="Test split: before and after fine-tuning")
    axes.legend()
    figure.savefig(path, dpi=110)
    return path


def samples_grid(samples: list[tuple[Path, dict[str, str], str]], path: Path, columns: int = 4) -> Path:
    """Test images, each with every model's caption and one reference caption under it."""
    rows = max(1, -(-len(samples) // columns))
    figure = Figure(figsize=(4 * columns, 4.2 * rows), layout="constrained")
    for index, (image_path, captions, reference) in enumerate(samples):
        axes = figure.add_subplot(rows, columns, index + 1)
        with Image.open(image_path) as image:
            axes.imshow(image.convert("RGB"))
        axes.set_axis_off()
        lines = [f"{label}: {caption}" for label, caption in captions.items()] + [f"reference: {reference}"]
        axes.set_title("\n".join(textwrap.fill(line, 44) for line in lines), fontsize="small", loc="left")
    figure.savefig(path, dpi=90)
    return path
