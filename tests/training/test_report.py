"""`captionbot report` on a finished run, and the demo model the product's offline demo asks for."""

from pathlib import Path

import pytest
from transformers import BlipForConditionalGeneration

from captionbot.training import demo_model
from captionbot.training.report import main


def test_report_writes_markdown_and_plots(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main([str(tiny_run), "--output", str(out), "--limit", "4", "--samples", "4", "--device", "cpu"]) == 0
    for name in ("loss.png", "val_metrics.png", "test_metrics.png", "samples.png", "test_scores.json"):
        assert (out / name).stat().st_size > 0, name
    report = (out / "report.md").read_text()
    assert "# Training report: tiny" in report
    assert "| random init |" in report and "| fine-tuned |" in report
    assert "![samples](samples.png)" in report and "first images of the split only" in report


def test_report_without_a_run_says_so(tmp_path: Path) -> None:
    from captionbot.training.data import DataError

    with pytest.raises(DataError, match="training_config.json"):
        main([str(tmp_path)])


def test_demo_model_is_a_loadable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_model, "DEMO_IMAGES", 40)
    monkeypatch.setattr(demo_model, "DEMO_FLAGS", ("--base", "random:tiny", "--epochs", "1", "--batch-size", "16"))
    folder = demo_model.train_demo_model(tmp_path / "demo")
    assert folder == tmp_path / "demo"
    assert (folder / "training_config.json").is_file() and (folder / "processor_config.json").is_file()
    BlipForConditionalGeneration.from_pretrained(folder)
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]
