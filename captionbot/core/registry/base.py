"""One registry interface, two back ends: a local folder (`local.py`) and S3-compatible object storage (`s3.py`).

`Registry(location)` picks the back end from the location, as `pathlib.Path` picks its flavour: a folder, or
`s3://bucket/prefix`. What is shared lives here: CURRENT and its history, the version list, metrics,
publishing by manifest, and clean-up of unfinished uploads. Each back end reads and writes whole objects.
"""

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from captionbot.core.errors import InvalidVersion
from captionbot.core.registry.layout import (
    CURRENT_KEY,
    HISTORY_KEEP,
    HISTORY_KEY,
    MANIFEST_FILE,
    METRICS_FILE,
    VERSIONS,
    parse_json,
    validate_new_version,
    validate_version,
)
from captionbot.core.registry.manifest import Manifest

S3_SCHEME = "s3://"


@dataclass(frozen=True)
class VersionInfo:
    name: str
    metrics: dict
    current: bool


@dataclass(frozen=True)
class VersionState:
    """What a listing shows of one version folder: whole (its manifest is there) or an unfinished upload."""

    name: str
    complete: bool
    files: int
    newest: float  # epoch seconds of its newest file


class Registry(ABC):
    location: str  # for messages: the folder or the s3:// URL

    def __new__(cls, location: Path | str = "models") -> "Registry":
        if cls is Registry:
            from captionbot.core.registry.local import LocalRegistry
            from captionbot.core.registry.s3 import S3Registry

            cls = S3Registry if str(location).startswith(S3_SCHEME) else LocalRegistry
        return super().__new__(cls)

    # --- what each back end provides -------------------------------------------------------------------------

    @abstractmethod
    def read(self, key: str) -> bytes | None:
        """The object at `key` (relative to the registry root), or None when there is none."""

    @abstractmethod
    def write(self, key: str, data: bytes) -> None:
        """Replace the object at `key` whole: a reader sees the old bytes or the new."""

    @abstractmethod
    def scan(self) -> list[VersionState]:
        """Every version folder, whole or not."""

    @abstractmethod
    def store_version(self, source: Path, manifest: Manifest) -> None:
        """Put the manifest's files from `source` into the store, the manifest itself last."""

    @abstractmethod
    def remove_version(self, name: str) -> None:
        """Delete a version folder and everything in it."""

    @abstractmethod
    def local_copy(self, name: str, cache_dir: Path | None = None, keep: int = 3) -> Path:
        """A local folder holding the whole, checked version, ready for `from_pretrained`."""

    # --- shared ----------------------------------------------------------------------------------------------

    def current(self) -> str | None:
        text = (self.read(CURRENT_KEY) or b"").decode("utf-8", "replace").strip()
        return text or None

    def history(self) -> list[str]:
        """The versions that were CURRENT, oldest first."""
        text = (self.read(HISTORY_KEY) or b"").decode("utf-8", "replace")
        return [line.strip() for line in text.splitlines() if line.strip()]

    def previous(self) -> str | None:
        """The version live before CURRENT that still exists (a second rollback returns to where it started)."""
        current, names = self.current(), set(self.names())
        return next((name for name in reversed(self.history()) if name != current and name in names), None)

    def set_current(self, name: str) -> None:
        """Point CURRENT at an existing version, then record it in HISTORY (CURRENT is the truth if a write
        in between fails: `previous()` still finds the version before)."""
        self.require(name)
        before = self.current()
        if before == name:
            return
        self.write(CURRENT_KEY, (name + "\n").encode())
        history = self.history()
        for live in (before, name):
            if live and (not history or history[-1] != live):
                history.append(live)
        self.write(HISTORY_KEY, "".join(f"{n}\n" for n in history[-HISTORY_KEEP:]).encode())

    def names(self) -> list[str]:
        return sorted(state.name for state in self.scan() if state.complete)

    def incomplete(self) -> list[VersionState]:
        """Unfinished uploads: files without a manifest. They are never loaded; `clean` removes them."""
        return [state for state in self.scan() if not state.complete]

    def exists(self, name: str) -> bool:
        return validate_version(name) in self.names()

    def require(self, name: str) -> str:
        """`name` if it is a whole version here; else `InvalidVersion` saying so."""
        if not self.exists(name):
            raise InvalidVersion(f"There is no model version '{name}' in the registry; run `captionbot models`.")
        return name

    def metrics(self, name: str) -> dict:
        return parse_json(self.read(f"{VERSIONS}/{validate_version(name)}/{METRICS_FILE}"))

    def versions(self) -> list[VersionInfo]:
        current = self.current()
        return [VersionInfo(name, self.metrics(name), name == current) for name in self.names()]

    def manifest(self, name: str) -> Manifest:
        data = self.read(f"{VERSIONS}/{validate_version(name)}/{MANIFEST_FILE}")
        if data is None:
            raise InvalidVersion(f"There is no model version '{name}' in the registry; run `captionbot models`.")
        return Manifest.from_json(name, data)

    def add_version(self, source: Path, name: str, exclude: tuple[str, ...] = ()) -> Manifest:
        """Publish the folder `source` as `name`: every file, then the manifest (files named in `exclude`
        stay behind). Until the manifest is written the version does not exist."""
        validate_new_version(name)
        if self.exists(name):
            raise InvalidVersion(f"Version '{name}' already exists; choose another name with --version.")
        manifest = Manifest.of_folder(name, Path(source), exclude)
        self.store_version(Path(source), manifest)
        return manifest

    def clean(self, older_than_s: float = 3600.0) -> list[str]:
        """Remove unfinished uploads older than `older_than_s` (younger ones may still be uploading)."""
        cutoff = time.time() - older_than_s
        stale = [state.name for state in self.incomplete() if state.newest <= cutoff]
        for name in stale:
            self.remove_version(name)
        return stale
