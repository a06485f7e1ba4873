"""Publishing into the registry: whole versions only, with metrics and config, CURRENT on --activate."""

import shutil
from pathlib import Path

import pytest

from captionbot.core.control import WorkerReply
from captionbot.core.errors import InvalidVersion
from captionbot.core.registry import Registry
from captionbot.training import publish as publish_module
from captionbot.training.checkpoint import TRAINER_STATE
from captionbot.training.publish import PublishError, default_version, main, publish


def test_publish_copies_best_with_metrics_and_config_and_activates(tiny_run: Path, tmp_path: Path, capsys) -> None:
    assert main([str(tiny_run / "best"), "--version", "shapes-1", "--activate", "--model-dir", str(tmp_path)]) == 0
    registry = Registry(tmp_path)
    assert registry.current() == "shapes-1"
    version = registry.version_path("shapes-1")
    assert {p.name for p in version.iterdir()} == {p.name for p in (tiny_run / "best").iterdir()}
    assert registry.versions()[0].metrics["CIDEr"] >= 0
    assert "shapes-1 is now CURRENT" in capsys.readouterr().out


def test_publish_leaves_resumable_state_behind(tiny_run: Path, tmp_path: Path) -> None:
    target = publish(tiny_run / "checkpoint-epoch-0003", tmp_path, "epoch-3")
    assert (tiny_run / "checkpoint-epoch-0003" / TRAINER_STATE).is_file()
    assert not (target / TRAINER_STATE).exists()
    assert (target / "model.safetensors").is_file()
    assert Registry(tmp_path).current() is None


def test_a_failed_copy_leaves_no_version(tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_copytree = shutil.copytree

    def copy_part_then_fail(source, target, **kwargs):
        real_copytree(source, target, ignore=shutil.ignore_patterns("*.safetensors"), dirs_exist_ok=True)
        raise OSError("No space left on device")

    monkeypatch.setattr(shutil, "copytree", copy_part_then_fail)
    with pytest.raises(OSError):
        publish(tiny_run / "best", tmp_path, "broken", activate=True)
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

    def reload_workers(app, version, timeout):
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
