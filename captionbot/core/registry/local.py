"""The registry in a local folder (the default: nothing to set up on one machine). A version is copied in under
a temporary name with its manifest and renamed into place, so a reader never sees half of one; versions
published before manifests existed (a `config.json`, no manifest) are whole for the same reason."""

import os
import shutil
import tempfile
from pathlib import Path

from captionbot.core.registry.base import Registry, VersionState
from captionbot.core.registry.layout import (
    FINETUNED,
    MANIFEST_FILE,
    VERSION_PATTERN,
    VERSIONS,
    atomic_write_text,
)
from captionbot.core.registry.manifest import Manifest


class LocalRegistry(Registry):
    def __init__(self, location: Path | str = "models") -> None:
        self.base = Path(location)
        self.location = str(self.base)
        self.root = self.base / FINETUNED
        self.versions_dir = self.base / VERSIONS
        self.current_file = self.root / "CURRENT"

    def read(self, key: str) -> bytes | None:
        try:
            return (self.base / key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def write(self, key: str, data: bytes) -> None:
        atomic_write_text(self.base / key, data.decode("utf-8"))

    def scan(self) -> list[VersionState]:
        if not self.versions_dir.is_dir():
            return []
        return [_state(path) for path in sorted(self.versions_dir.iterdir()) if path.is_dir()]

    def version_path(self, name: str) -> Path:
        """The folder of an existing version; `InvalidVersion` for bad or unknown names."""
        return self.versions_dir / self.require(name)

    def local_copy(self, name: str, cache_dir: Path | None = None, keep: int = 3) -> Path:
        return self.version_path(name)

    def store_version(self, source: Path, manifest: Manifest) -> None:
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{manifest.version}.", dir=self.versions_dir))
        try:
            for entry in manifest.files:
                (staging / entry.path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / entry.path, staging / entry.path)
            (staging / MANIFEST_FILE).write_bytes(manifest.to_json())
            os.replace(staging, self.versions_dir / manifest.version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def remove_version(self, name: str) -> None:
        path = self.versions_dir / name
        if path.parent == self.versions_dir and "/" not in name and name not in ("", ".", ".."):
            shutil.rmtree(path, ignore_errors=True)


def _state(path: Path) -> VersionState:
    """Whole: a plain version name with a manifest (or, from before manifests, a config.json). Staging folders
    (`.name.xxxx`) and anything else are unfinished."""
    whole = bool(VERSION_PATTERN.fullmatch(path.name)) and any((path / f).is_file() for f in (MANIFEST_FILE, "config.json"))
    files = [p for p in path.rglob("*") if p.is_file()]
    newest = max((p.stat().st_mtime for p in files), default=path.stat().st_mtime)
    return VersionState(path.name, whole, len(files), newest)
