"""metrics.jsonl: a run's whole history, one JSON object a line, each with its `kind`, `epoch` and `step`.

    {"kind": "train", "epoch": 1, "step": 10, "loss": 3.1, "lr": 4e-5, "images_per_s": 210.0}
    {"kind": "epoch", "epoch": 1, "step": 63, "train_loss": 3.0, "val_loss": 2.8, "seconds": 31.2}
    {"kind": "eval",  "epoch": 1, "step": 63, "split": "val", "BLEU-4": 0.21, "CIDEr": 0.55, ...}
    {"kind": "best",  "epoch": 1, "step": 63, "CIDEr": 0.55, "path": "runs/flickr8k/best"}

`best` follows the `eval` whose model became best/. Under torchrun only rank 0 keeps the history.
"""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from captionbot.core.registry import atomic_write_text

FILE = "metrics.jsonl"


def read_history(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class Listener(Protocol):
    """Sees every record as it is written (experiment trackers, a hyperparameter search's pruner)."""

    def record(self, kind: str, record: dict) -> None: ...

    def close(self, error: BaseException | None = None) -> None:
        """The run has ended: normally (`error` None), or by `error` (Ctrl-C is a KeyboardInterrupt)."""


class History:
    """metrics.jsonl and its listeners; with no path (a rank other than 0) it keeps nothing and tells nobody,
    and only closes its listeners."""

    def __init__(self, path: Path | None, listeners: Sequence[Listener] = ()) -> None:
        self.path, self.listeners = path, list(listeners)

    def append(self, kind: str, **record: object) -> None:
        if self.path is None:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"kind": kind, **record}) + "\n")
        self._tell_all(lambda listener: listener.record(kind, record))

    def close(self, error: BaseException | None = None) -> None:
        self._tell_all(lambda listener: listener.close(error))

    def _tell_all(self, call) -> None:
        """Every listener hears it, even after one raised (a pruner stopping the run stops it for all, but the
        trackers still see the record that stopped it); then the first error goes on."""
        failed: BaseException | None = None
        for listener in self.listeners:
            try:
                call(listener)
            except BaseException as err:  # noqa: BLE001 - re-raised below, after the others have heard
                failed = failed or err
        if failed is not None:
            raise failed

    def truncate(self, epoch: int) -> None:
        """Forget what happened after `epoch`: a resumed run writes those epochs again."""
        if self.path is None:
            return
        kept = [record for record in read_history(self.path) if record["epoch"] <= epoch]
        atomic_write_text(self.path, "".join(json.dumps(record) + "\n" for record in kept))
