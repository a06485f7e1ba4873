"""A version's manifest: each file's path, size and sha256. It is written after every file of the version, so
a version without one is an unfinished upload and does not exist (docs/architecture.md, "Model registry")."""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from captionbot.core.registry.errors import VersionCorrupt
from captionbot.core.registry.layout import MANIFEST_FILE

CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative, '/'-separated
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    version: str
    files: tuple[FileEntry, ...]
    created: str = ""

    def to_json(self) -> bytes:
        body = {
            "version": self.version,
            "created": self.created,
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
        }
        return (json.dumps(body, indent=2) + "\n").encode()

    @classmethod
    def from_json(cls, version: str, data: bytes) -> "Manifest":
        try:
            body = json.loads(data)
            files = tuple(FileEntry(safe_path(f["path"]), int(f["size"]), str(f["sha256"])) for f in body["files"])
        except (ValueError, KeyError, TypeError) as err:
            raise VersionCorrupt(f"version '{version}' has an unreadable {MANIFEST_FILE}: {err}") from err
        return cls(version, files, str(body.get("created", "")))

    @classmethod
    def of_folder(cls, version: str, folder: Path, exclude: tuple[str, ...] = ()) -> "Manifest":
        """Hash every file under `folder` except those named in `exclude` (and any old manifest)."""
        skipped = {*exclude, MANIFEST_FILE}
        files = tuple(
            FileEntry(path.relative_to(folder).as_posix(), path.stat().st_size, sha256_of(path))
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.relative_to(folder).parts[0] not in skipped
        )
        return cls(version, files, datetime.now(UTC).isoformat(timespec="seconds"))

    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def safe_path(path: str) -> str:
    """A manifest path stays inside its version: relative, no '..', no empty parts."""
    parts = PurePosixPath(path).parts
    if not parts or PurePosixPath(path).is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"'{path}' is not a path inside a version")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(version: str, entry: FileEntry, path: Path) -> None:
    """`VersionCorrupt` naming the file and both figures when its size or sha256 is not the manifest's."""
    size = path.stat().st_size
    if size != entry.size:
        raise VersionCorrupt(
            f"version '{version}' is refused: {entry.path} is {size} bytes but its manifest records {entry.size}"
        )
    digest = sha256_of(path)
    if digest != entry.sha256:
        raise VersionCorrupt(
            f"version '{version}' is refused: {entry.path} has sha256 {digest[:12]}… but its manifest records "
            f"{entry.sha256[:12]}…"
        )
