"""A worker's local copies of registry versions (`MODEL_CACHE_DIR`), for registries in object storage.

A version is fetched by its manifest into a temporary folder beside the cache, every file's size and sha256
checked, and only then renamed into place: a folder under its version's name is whole and checked. The cache
keeps the newest few versions (by last use); the one being loaded or served is never removed.
"""

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Protocol

from captionbot.core.registry.layout import MANIFEST_FILE, validate_version
from captionbot.core.registry.manifest import Manifest, verify_file

STALE_STAGING_S = 3600.0


class Fetchable(Protocol):
    def manifest(self, name: str) -> Manifest: ...

    def download(self, version: str, path: str, target: Path) -> None: ...


class ModelCache:
    def __init__(self, root: Path, keep: int = 3) -> None:
        self.root = Path(root)
        self.keep = max(1, keep)

    def fetch(self, registry: Fetchable, name: str) -> Path:
        """The cached folder of `name`, fetched and checked first when it is not here yet."""
        target = self.root / validate_version(name)
        if (target / MANIFEST_FILE).is_file():
            os.utime(target)  # last use, for pruning
            return target
        manifest = registry.manifest(name)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.root))
        try:
            for entry in manifest.files:
                path = staging / entry.path
                path.parent.mkdir(parents=True, exist_ok=True)
                registry.download(name, entry.path, path)
                verify_file(name, entry, path)
            (staging / MANIFEST_FILE).write_bytes(manifest.to_json())
            self._place(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.prune(keep={name})
        return target

    def names(self) -> list[str]:
        """Cached versions, most recently used first."""
        if not self.root.is_dir():
            return []
        whole = [p for p in self.root.iterdir() if not p.name.startswith(".") and (p / MANIFEST_FILE).is_file()]
        return [p.name for p in sorted(whole, key=lambda p: p.stat().st_mtime, reverse=True)]

    def prune(self, keep: set[str] = frozenset()) -> list[str]:
        """Drop all but the `self.keep` most recently used versions (never those in `keep`), and staging
        folders that a killed process left behind."""
        names = self.names()
        dropped = [name for name in names[self.keep:] if name not in keep]
        for name in dropped:
            shutil.rmtree(self.root / name, ignore_errors=True)
        cutoff = time.time() - STALE_STAGING_S
        for path in self.root.glob(".*"):
            if path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
        return dropped

    @staticmethod
    def _place(staging: Path, target: Path) -> None:
        """Rename into place; when another process on this host placed the same version first, keep theirs."""
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / MANIFEST_FILE).is_file():
                raise
