"""`captionbot` as a person runs it: a subprocess in a folder of their own, with no model settings, and the
Hub out of reach unless a test says otherwise."""

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

WORKTREE = Path(__file__).resolve().parents[2]


@dataclass
class Ran:
    status: int
    out: str
    err: str


def closed_port() -> int:
    with socket.socket() as probe:  # nothing listens on it once this closes: connections are refused
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def user_env(tmp_path: Path) -> dict[str, str]:
    """A fresh user's environment: no model settings, an empty Hugging Face cache, the Hub unreachable (a
    refused port: offline machines fail at once or never), state in a data folder of its own."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PRETRAINED_MODEL", "MODEL_DIR", "FINETUNED_MODEL", "HF_HUB_OFFLINE", "DATA_DIR")}
    env.update({
        "PYTHONPATH": str(WORKTREE),
        "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
        "HF_HOME": str(tmp_path / "hf-home"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "DEVICE": "cpu",
    })
    return env


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    Image.new("RGB", (120, 90), (200, 40, 40)).save(folder / "photo.jpg")
    return folder


@pytest.fixture()
def after_demo(workdir: Path, tiny_checkpoint: Path, model_dir: Path) -> Path:
    """`workdir` as `captionbot demo` leaves it offline: its stand-in pretrained model and its registry."""
    shutil.copytree(tiny_checkpoint, workdir / ".demo" / "demo-untrained")
    shutil.copytree(model_dir, workdir / ".demo" / "models")
    return workdir


def captionbot(cwd: Path, env: dict[str, str], *args: str, timeout: float = 300) -> Ran:
    done = subprocess.run([sys.executable, "-m", "captionbot", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return Ran(done.returncode, done.stdout, done.stderr)


@pytest.fixture()
def settings_env(monkeypatch: pytest.MonkeyPatch):
    """`settings_env(NAME=value, …)`: the environment this process's settings are read from, for `main(argv)`;
    read afresh by the command and after the test."""
    from captionbot.core.settings import get_settings

    def set_values(**values: str) -> None:
        monkeypatch.delenv("FINETUNED_MODEL", raising=False)
        for name, value in {"DEVICE": "cpu", **values}.items():
            monkeypatch.setenv(name, str(value))
        get_settings.cache_clear()

    yield set_values
    get_settings.cache_clear()
