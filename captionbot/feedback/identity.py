"""Users are stored only as a keyed hash of platform and id (HMAC-SHA256 with FEEDBACK_USER_KEY): the same
person always maps to the same value, so their votes can be found and forgotten, but the database alone does
not say who they are."""

import hashlib
import hmac

from captionbot.core.settings import Settings


class MissingUserKey(RuntimeError):
    """FEEDBACK_USER_KEY is not set; feedback cannot store or find anyone."""


class UserHasher:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> "UserHasher":
        if settings.feedback_user_key is None:
            raise MissingUserKey(
                "FEEDBACK_USER_KEY is not set: feedback stores users only as a keyed hash; set it to a long random "
                "secret (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`) and keep it."
            )
        return cls(settings.feedback_user_key.get_secret_value().encode())

    def __call__(self, platform: str, user_id: str) -> str:
        return hmac.new(self._key, f"{platform}:{user_id}".encode(), hashlib.sha256).hexdigest()
