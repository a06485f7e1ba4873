"""The registry's layout and names (docs/architecture.md, "Model registry"), the same on disk and in a bucket:

    <root>/finetuned/versions/<version>/<files>          save_pretrained folder + metrics.json + training_config.json
    <root>/finetuned/versions/<version>/manifest.json    every file's path, size and sha256; written last
    <root>/finetuned/CURRENT                             one line: the live version
    <root>/finetuned/HISTORY                             the versions that were live, oldest first, one a line
"""

import json
import os
import re
import tempfile
from pathlib import Path

from captionbot.core.errors import InvalidVersion

VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
METRICS_FILE = "metrics.json"
TRAINING_CONFIG_FILE = "training_config.json"
MANIFEST_FILE = "manifest.json"
# Not a version: `reload previous` and `/reload-model previous` mean the version live before CURRENT.
PREVIOUS = "previous"

FINETUNED = "finetuned"
VERSIONS = f"{FINETUNED}/versions"
CURRENT_KEY = f"{FINETUNED}/CURRENT"
HISTORY_KEY = f"{FINETUNED}/HISTORY"
HISTORY_KEEP = 50


def validate_version(name: str) -> str:
    """A version name is a plain folder name: letters, digits, '.', '_', '-'; no paths, no '..'."""
    if not VERSION_PATTERN.match(name) or ".." in name:
        raise InvalidVersion(
            f"'{name}' is not a valid version name; use letters, digits, '.', '_' and '-' only (no paths)."
        )
    return name


def validate_new_version(name: str) -> str:
    """A name a new version may take: valid, and not the reserved word `previous`."""
    if validate_version(name) == PREVIOUS:
        raise InvalidVersion(f"'{PREVIOUS}' is reserved (it means the version live before); choose another name.")
    return name


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def parse_json(data: bytes | None) -> dict:
    try:
        value = json.loads(data) if data else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


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
