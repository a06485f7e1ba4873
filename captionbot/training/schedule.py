"""The learning rate: linear warmup, then cosine decay to zero, stepped once per optimizer step."""

import math


def optimizer_steps(batches_per_epoch: int, grad_accum: int, epochs: int, max_steps: int | None) -> tuple[int, int]:
    """Optimizer steps per epoch (the last may gather fewer micro-batches) and in the whole run (up to
    --max-steps): the schedule's length, for the trainer and for a search sizing a trial's warm-up."""
    per_epoch = math.ceil(batches_per_epoch / grad_accum)
    return per_epoch, min(per_epoch * epochs, max_steps or math.inf)


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Multiplier of the peak learning rate for optimizer step `step` (0-based), for `LambdaLR`."""
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    if step >= total_steps:
        return 0.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)  # 0 -> 1
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def default_warmup(total_steps: int) -> int:
    """5% of the run, as the seed's recipe names no fixed count that suits every data set size."""
    return max(1, round(0.05 * total_steps))
