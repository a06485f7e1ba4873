"""The model registry's folder format (docs/architecture.md, contract).

    MODEL_DIR/finetuned/versions/<version>/   save_pretrained folder + metrics.json + training_config.json
    MODEL_DIR/finetuned/CURRENT               one line: the live version, replaced atomically

Readers never see half a checkpoint: versions are written under a temporary name and renamed into place.
"""

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from captionbot.core.errors import InvalidVersion

VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
METRICS_FILE = "metrics.json"
TRAINING_CONFIG_FILE = "training_config.json"


def validate_version(name: str) -> str:
    """A version name is a plain folder name: letters, digits, '.', '_', '-'; no paths, no '..'."""
    if not VERSION_PATTERN.match(name) or ".." in name:
        raise InvalidVersion(
            f"'{name}' is not a valid version name; use letters, digits, '.', '_' and '-' only (no paths)."
        )
    return name


@dataclass(frozen=True)
class VersionInfo:
    name: str
    path: Path
    metrics: dict
    current: bool


class Registry:
    def __init__(self, model_dir: Path | str) -> None:
        self.root = Path(model_dir) / "finetuned"
        self.versions_dir = self.root / "versions"
        self.current_file = self.root / "CURRENT"

    def version_path(self, name: str) -> Path:
        """The folder of an existing version; `InvalidVersion` for bad or unknown names."""
        path = self.versions_dir / validate_version(name)
        if not (path / "config.json").is_file():
            raise InvalidVersion(f"There is no model version '{name}' in the registry; run `captionbot models`.")
        return path

    def current(self) -> str | None:
        try:
            name = self.current_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def names(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.versions_dir.iterdir()
            if p.is_dir() and VERSION_PATTERN.match(p.name) and (p / "config.json").is_file()
        )

    def versions(self) -> list[VersionInfo]:
        current = self.current()
        return [
            VersionInfo(name, self.versions_dir / name, read_json(self.versions_dir / name / METRICS_FILE), name == current)
            for name in self.names()
        ]

    def set_current(self, name: str) -> None:
        """Point CURRENT at an existing version, atomically."""
        self.version_path(name)
        atomic_write_text(self.current_file, name + "\n")

    def add_version(self, source: Path, name: str) -> Path:
        """Copy a save_pretrained folder in under a temporary name, then rename it into place."""
        target = self.versions_dir / validate_version(name)
        if target.exists():
            raise InvalidVersion(f"Version '{name}' already exists; choose another name with --version.")
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.versions_dir))
        try:
            shutil.copytree(source, staging, dirs_exist_ok=True)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def atomic_write_text(path: Path, text: str) -> None:
    """Write beside the target and os.replace it, so a reader sees the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
