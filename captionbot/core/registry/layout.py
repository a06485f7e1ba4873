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
from captionbot.core.registry.errors import RegistryError

VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
METRICS_FILE = "metrics.json"
# What `from_pretrained(..., use_safetensors=True)` reads: one file, or an index of shards.
SAFETENSORS_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
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
    if not VERSION_PATTERN.fullmatch(name) or ".." in name:
        raise InvalidVersion(
            f"'{name}' is not a valid version name; use letters, digits, '.', '_' and '-' only (no paths)."
        )
    return name


def validate_new_version(name: str) -> str:
    """A name a new version may take: valid, and not the reserved word `previous`."""
    if validate_version(name) == PREVIOUS:
        raise InvalidVersion(f"'{PREVIOUS}' is reserved (it means the version live before); choose another name.")
    return name


class WeightsNotSafetensors(RegistryError):
    """A model folder without safetensors weights: only pickled ones, which could run code as they load."""


def require_safetensors(location: str | Path) -> None:
    """`WeightsNotSafetensors` when the folder `location` holds no safetensors weights; a Hub id (not a folder)
    passes here, and `use_safetensors=True` holds it to the same rule as it loads."""
    folder = Path(location)
    if not folder.is_dir() or any((folder / name).is_file() for name in SAFETENSORS_WEIGHTS):
        return
    found = sorted(path.name for path in folder.iterdir() if path.suffix in (".bin", ".pt", ".pth", ".ckpt"))
    pickled = f"; only {', '.join(found)}" if found else ""
    raise WeightsNotSafetensors(
        f"it holds no safetensors weights ({SAFETENSORS_WEIGHTS[0]}){pickled}. "
        "Only safetensors are loaded, since pickled weights can run code as they load: save the model again with "
        "save_pretrained, which writes safetensors."
    )


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
