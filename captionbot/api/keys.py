"""API keys: made once, shown once, stored only as salted SHA-256 hashes in API_KEYS_FILE.

The file is JSON, `{name: {"salt", "hash", "created"}}`, replaced atomically under a lock, so concurrent
`captionbot api-key` commands never lose an entry and a running API never reads half a file; the API reloads
it when it changes, so a revoked key stops working at once. Keys are 256 random bits: a fast hash is enough
(a password hash's slowness protects guessable secrets, which these are not).
"""

import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from captionbot.core.registry import atomic_write_text

log = logging.getLogger(__name__)

KEY_PREFIX = "cbk_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FIELDS = {"salt", "hash", "created"}


class KeyCommandError(ValueError):
    """A refused key command (bad or taken name, unknown name, unreadable file): one sentence for the operator."""


@dataclass(frozen=True)
class KeyEntry:
    name: str
    salt: str
    hash: str
    created: str

    def matches(self, key: str) -> bool:
        return hmac.compare_digest(self.hash, _digest(self.salt, key))


def _digest(salt: str, key: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + key.encode("utf-8")).hexdigest()


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._entries: list[KeyEntry] = []
        self._seen: tuple[int, int, int] | None = None

    def name_for(self, key: str) -> str | None:
        """The name of the key's entry, or None; re-reads the file when it has changed."""
        if not key.startswith(KEY_PREFIX):
            return None
        self._refresh()
        return next((entry.name for entry in self._entries if entry.matches(key)), None)

    def entries(self) -> list[KeyEntry]:
        """Every key's entry, read now; `KeyCommandError` when the file cannot be read as a key file."""
        return [KeyEntry(name=name, **fields) for name, fields in sorted(_read(self.path).items())]

    def create(self, name: str) -> str:
        """A new key for `name`; returned once, stored only as its hash."""
        if not NAME_PATTERN.match(name):
            raise KeyCommandError(f"'{name}' is not a valid key name; use letters, digits, '.', '_' and '-' (at most 64).")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        with self._editing() as data:
            if name in data:
                raise KeyCommandError(f"A key named '{name}' already exists; revoke it first or choose another name.")
            created = datetime.now(UTC).isoformat(timespec="seconds")
            data[name] = {"salt": salt, "hash": _digest(salt, key), "created": created}
        return key

    def revoke(self, name: str) -> None:
        with self._editing() as data:
            if data.pop(name, None) is None:
                raise KeyCommandError(f"There is no key named '{name}'; `captionbot api-key list` shows them.")

    @contextmanager
    def _editing(self) -> Iterator[dict]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = _read(self.path)
            yield data
            atomic_write_text(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")

    def _refresh(self) -> None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._entries, self._seen = [], None
            return
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen == self._seen:
            return
        self._seen = seen
        try:
            self._entries = self.entries()
        except KeyCommandError as err:
            # A hand-edited file gone wrong: keep the keys read before rather than lock everyone out.
            log.error("%s; still using the %d keys read before", err, len(self._entries))


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise KeyCommandError(f"API_KEYS_FILE {path} cannot be read as a key file ({err}).") from err
    if not isinstance(data, dict) or not all(isinstance(v, dict) and set(v) == FIELDS for v in data.values()):
        raise KeyCommandError(f"API_KEYS_FILE {path} is not a key file written by `captionbot api-key`.")
    return data
