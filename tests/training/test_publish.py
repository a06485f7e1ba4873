"""Publishing into the registry (a folder, or S3 through moto's server): whole versions only, with metrics and
config; --activate checks the model as a worker does and holds to the quality gate before CURRENT moves."""

import json
import shutil
from pathlib import Path

import pytest

from captionbot.core.control import WorkerReply
from captionbot.core.errors import InvalidVersion
from captionbot.core.registry import Registry
from captionbot.training import publish as publish_module
from captionbot.training.checkpoint import TRAINER_STATE
from captionbot.training.publish import PublishError, default_version, main, publish
from tests.fixtures.models import make_pickled_checkpoint


def test_publish_copies_best_with_metrics_and_config_and_activates(tiny_run: Path, tmp_path: Path, capsys) -> None:
    assert main([str(tiny_run / "best"), "--version", "shapes-1", "--activate", "--model-dir", str(tmp_path)]) == 0
    registry = Registry(tmp_path)
    assert registry.current() == "shapes-1"
    version = registry.version_path("shapes-1")
    assert {p.name for p in version.iterdir()} == {p.name for p in (tiny_run / "best").iterdir()} | {"manifest.json"}
    assert registry.versions()[0].metrics["CIDEr"] >= 0
    assert "shapes-1 is now CURRENT" in capsys.readouterr().out


def test_publish_leaves_resumable_state_behind(tiny_run: Path, tmp_path: Path) -> None:
    target = Registry(tmp_path).versions_dir / publish(tiny_run / "checkpoint-epoch-0003", tmp_path, "epoch-3")
    assert (tiny_run / "checkpoint-epoch-0003" / TRAINER_STATE).is_file()
    assert not (target / TRAINER_STATE).exists()
    assert (target / "model.safetensors").is_file()
    assert Registry(tmp_path).current() is None


def test_a_failed_copy_leaves_no_version(tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_copy = shutil.copy2

    def copy_until_the_weights(source, target, **kwargs):
        if str(source).endswith(".safetensors"):
            raise OSError("No space left on device")
        return real_copy(source, target, **kwargs)

    monkeypatch.setattr(shutil, "copy2", copy_until_the_weights)
    with pytest.raises(OSError):
        publish(tiny_run / "best", tmp_path, "broken")
    registry = Registry(tmp_path)
    assert registry.names() == [] and registry.current() is None
    assert not (registry.versions_dir / "broken").exists()
    assert [p for p in registry.versions_dir.iterdir()] == []


def test_publish_refuses_what_it_cannot_serve(tiny_run: Path, tmp_path: Path) -> None:
    incomplete = tmp_path / "incomplete"
    shutil.copytree(tiny_run / "best", incomplete)
    (incomplete / "metrics.json").unlink()
    with pytest.raises(PublishError, match="metrics.json"):
        publish(incomplete, tmp_path / "models", "v1")
    with pytest.raises(InvalidVersion):
        publish(tiny_run / "best", tmp_path / "models", "../escape")
    publish(tiny_run / "best", tmp_path / "models", "v1")
    with pytest.raises(InvalidVersion, match="already exists"):
        publish(tiny_run / "best", tmp_path / "models", "v1")


def test_default_version_names_the_run(tiny_run: Path) -> None:
    assert default_version(tiny_run / "best").startswith("tiny-")


def test_activate_asks_the_workers_to_reload_when_configured(tiny_run: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    calls = []

    def reload_workers(app, version, timeout, force):
        calls.append(version)
        return [WorkerReply(worker="w1@host", status="ok", version=version, load_s=0.4)]

    monkeypatch.setenv("RELOAD_ON_PUBLISH", "true")
    monkeypatch.setenv("MODEL_DIR", str(tmp_path))
    publish_module.get_settings.cache_clear()
    monkeypatch.setattr("captionbot.core.control.reload_workers", reload_workers)
    try:
        assert main([str(tiny_run / "best"), "--version", "live", "--activate"]) == 0
    finally:
        publish_module.get_settings.cache_clear()
    assert calls == ["live"]
    assert "w1@host: now serves live" in capsys.readouterr().out
    assert Registry(tmp_path).current() == "live"


def with_test_cider(source: Path, target: Path, cider: float) -> Path:
    shutil.copytree(source, target)
    metrics = json.loads((target / "metrics.json").read_text())
    (target / "metrics.json").write_text(json.dumps({**metrics, "test": {"CIDEr": cider}}))
    return target


def test_publish_to_s3_and_the_quality_gate_on_activate(tiny_run: Path, tmp_path: Path, s3_registry_url: str) -> None:
    good = with_test_cider(tiny_run / "best", tmp_path / "good", 0.61)
    assert main([str(good), "--version", "good", "--activate", "--model-dir", s3_registry_url]) == 0
    registry = Registry(s3_registry_url)
    assert registry.current() == "good" and registry.manifest("good").files
    scores = tmp_path / "test-scores.json"  # what `captionbot evaluate --split test --json` prints
    scores.write_text(json.dumps({"BLEU-4": 0.2, "CIDEr": 0.40}))
    worse = [str(tiny_run / "best"), "--version", "worse", "--test-scores", str(scores), "--activate", "--model-dir", s3_registry_url]
    with pytest.raises(PublishError) as refused:
        main(worse)
    assert "test CIDEr 0.400" in str(refused.value) and "good's 0.610" in str(refused.value) and "--force" in str(refused.value)
    assert registry.names() == ["good"] and registry.current() == "good"  # nothing published, nothing moved
    assert main([*worse, "--force"]) == 0
    assert registry.current() == "worse" and registry.previous() == "good"
    assert registry.metrics("worse")["test"] == {"BLEU-4": 0.2, "CIDEr": 0.40}
    assert "test" not in json.loads((tiny_run / "best" / "metrics.json").read_text())  # the run is left as it was


def test_activate_refuses_what_a_worker_would_refuse(tiny_run: Path, tmp_path: Path) -> None:
    mismatched = tmp_path / "mismatched"
    shutil.copytree(tiny_run / "best", mismatched)
    processor = json.loads((mismatched / "processor_config.json").read_text())
    processor["image_processor"]["size"] = {"height": 8, "width": 8}
    (mismatched / "processor_config.json").write_text(json.dumps(processor))
    with pytest.raises(PublishError, match="the workers would refuse .*processor resizes to 8 px"):
        main([str(mismatched), "--version", "bad", "--activate", "--model-dir", str(tmp_path / "models")])
    assert Registry(tmp_path / "models").names() == [] and Registry(tmp_path / "models").current() is None


def test_pickled_weights_are_refused_by_publish_and_check_model(tiny_run: Path, tmp_path: Path, capsys) -> None:
    """A folder whose weights are only `pytorch_model.bin` (a pickle, which could run code as it loads)."""
    from captionbot.cli import main as captionbot

    pickled = make_pickled_checkpoint(tiny_run / "best", tmp_path / "pickled")
    with pytest.raises(PublishError, match=r"no safetensors weights \(model.safetensors\); only pytorch_model.bin\."):
        publish(pickled, tmp_path / "models", "v1")
    assert Registry(tmp_path / "models").names() == []
    assert captionbot(["check-model", str(pickled)]) == 1
    refusal = capsys.readouterr().err
    assert "refused: could not load the finetuned model from" in refusal
    assert "Only safetensors are loaded, since pickled weights can run code as they load" in refusal
