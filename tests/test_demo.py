"""`captionbot demo` offline: one quick probe of the Hub, then one sentence, then its own demo models."""

import socket
from pathlib import Path

import pytest

from captionbot.commands.demo import demo_models
from captionbot.core.settings import Settings


def test_offline_the_demo_probes_once_and_says_so_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capfd, tiny_checkpoint: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on once this closes: the Hub "unreachable"
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    settings = Settings(_env_file=None, pretrained_model="Salesforce/not-cached-here", finetuned_model=str(tiny_checkpoint))
    values = demo_models(settings, tmp_path / "demo")
    out, err = capfd.readouterr()
    assert out.splitlines() == [
        "The pretrained model Salesforce/not-cached-here cannot be fetched here (offline?), so this demo runs on "
        "small demo models made on this machine: their captions describe coloured shapes, not photos."]
    assert "retry" not in err.lower() and "warn" not in err.lower() and "huggingface" not in err.lower()
    assert values["PRETRAINED_MODEL"] == str(tmp_path / "demo" / "demo-untrained")
    assert (tmp_path / "demo" / "demo-untrained" / "config.json").is_file()
