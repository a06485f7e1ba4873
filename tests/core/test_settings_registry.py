"""Settings from the environment, and the registry's folder format."""

import pytest

from captionbot.core.errors import InvalidVersion
from captionbot.core.registry import Registry, validate_version
from captionbot.core.settings import Settings


def test_id_lists_accept_commas_and_spaces(monkeypatch):
    monkeypatch.setenv("DISCORD_ADMIN_USER_IDS", "12, 34 56")
    monkeypatch.setenv("SLACK_ADMIN_USER_IDS", "U1")
    settings = Settings(_env_file=None)
    assert settings.discord_admin_user_ids == ["12", "34", "56"]
    assert settings.slack_admin_user_ids == ["U1"]


def test_secrets_never_appear_in_repr(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "discord-secret-value")
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@redis:6379/0")
    text = repr(Settings(_env_file=None)) + str(Settings(_env_file=None).model_dump())
    assert "discord-secret-value" not in text and "hunter2" not in text


def test_env_example_lists_every_setting():
    from pathlib import Path

    example = (Path(__file__).parents[2] / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"{name.upper()}=" in example, f"{name.upper()} is missing from .env.example"


@pytest.mark.parametrize("name", ["../etc", "a/b", "..", ".hidden", "", "x" * 65, "v1/../../x", "v 1"])
def test_path_like_version_names_are_refused(name):
    with pytest.raises(InvalidVersion):
        validate_version(name)


def test_registry_versions_and_current(tmp_path):
    source = tmp_path / "ckpt"
    source.mkdir()
    (source / "config.json").write_text("{}")
    (source / "metrics.json").write_text('{"CIDEr": 0.5}')
    registry = Registry(tmp_path / "models")
    assert registry.current() is None and registry.names() == []
    registry.add_version(source, "v1")
    registry.set_current("v1")
    assert registry.current() == "v1"
    (info,) = registry.versions()
    assert info.name == "v1" and info.current and info.metrics == {"CIDEr": 0.5}
    with pytest.raises(InvalidVersion):
        registry.add_version(source, "v1")
    with pytest.raises(InvalidVersion):
        registry.set_current("v2")
    assert not [p for p in registry.versions_dir.iterdir() if p.name.startswith(".")]
