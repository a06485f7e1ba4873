"""A run's history tells every listener every record, in order, even when one of them stops the run."""

import json

import pytest

from captionbot.training.history import History, read_history


class Stop(Exception):
    pass


class Pruner:
    def record(self, kind: str, record: dict) -> None:
        if kind == "eval":
            raise Stop(f"pruned at epoch {record['epoch']}")

    def close(self, error: BaseException | None = None) -> None:
        raise Stop("closing failed")


class Tracker:
    def __init__(self) -> None:
        self.seen, self.closed = [], False

    def record(self, kind: str, record: dict) -> None:
        self.seen.append((kind, record))

    def close(self, error: BaseException | None = None) -> None:
        self.closed = True


def test_a_listener_that_stops_the_run_leaves_the_record_with_the_others(tmp_path):
    tracker = Tracker()
    history = History(tmp_path / "metrics.jsonl", [Pruner(), tracker])
    history.append("epoch", epoch=1, step=4, train_loss=2.0)
    with pytest.raises(Stop, match="pruned at epoch 1"):
        history.append("eval", epoch=1, step=4, CIDEr=0.1)
    with pytest.raises(Stop, match="closing failed"):
        history.close()
    assert tracker.seen == [("epoch", {"epoch": 1, "step": 4, "train_loss": 2.0}),
                            ("eval", {"epoch": 1, "step": 4, "CIDEr": 0.1})]
    assert tracker.closed
    assert [json.dumps(r) for r in read_history(tmp_path / "metrics.jsonl")] == [
        json.dumps({"kind": "epoch", "epoch": 1, "step": 4, "train_loss": 2.0}),
        json.dumps({"kind": "eval", "epoch": 1, "step": 4, "CIDEr": 0.1})]


def test_other_ranks_keep_nothing_and_tell_nobody(tmp_path):
    tracker = Tracker()
    history = History(None, [tracker])
    history.append("epoch", epoch=1, step=4)
    history.close()
    assert tracker.seen == [] and tracker.closed
