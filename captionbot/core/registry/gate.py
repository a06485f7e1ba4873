"""The quality gate: a version whose recorded CIDEr is lower than the live version's by more than
`QUALITY_GATE_MARGIN` is not made live unless forced. Both figures must be on the same split; the test split's
(`metrics.json` "test": {"CIDEr": ...}, or "split": "test") is preferred, else the validation figure that
training records. A version without a recorded CIDEr passes: there is nothing to compare."""

Figure = tuple[str, float]  # (split, CIDEr)


def recorded_cider(metrics: dict) -> dict[str, float]:
    """CIDEr by split, as far as `metrics.json` records it."""
    figures = {}
    test = metrics.get("test")
    if isinstance(test, dict) and isinstance(test.get("CIDEr"), int | float):
        figures["test"] = float(test["CIDEr"])
    if isinstance(metrics.get("CIDEr"), int | float):
        figures.setdefault(str(metrics.get("split") or "val"), float(metrics["CIDEr"]))
    return figures


def comparable(candidate: dict, live: dict) -> tuple[str, float, float] | None:
    """(split, candidate CIDEr, live CIDEr) on the best split both record, or None."""
    ours, theirs = recorded_cider(candidate), recorded_cider(live)
    for split in ("test", *sorted(set(ours) - {"test"})):
        if split in ours and split in theirs:
            return split, ours[split], theirs[split]
    return None


def gate_refusal(candidate: str, candidate_metrics: dict, live: str | None, live_metrics: dict, margin: float) -> str | None:
    """Why `candidate` may not replace `live`, naming both figures; None when it may."""
    figures = comparable(candidate_metrics, live_metrics) if live and live != candidate else None
    if figures is None:
        return None
    split, ours, theirs = figures
    if ours >= theirs - margin:
        return None
    return (
        f"quality gate: {candidate}'s {split} CIDEr {ours:.3f} is lower than the live {live}'s {theirs:.3f} by "
        f"{theirs - ours:.3f}, more than the allowed {margin:.3f}; use --force to make it live anyway"
    )
