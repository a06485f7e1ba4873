"""The Discord ids in the settings (strings there), parsed once into sets of ints, or a clear error."""

from dataclasses import dataclass

from captionbot.bot import messages
from captionbot.core.settings import Settings


class InvalidDiscordId(ValueError):
    """A setting holds something that is not a Discord id; the message names the setting."""


def _snowflakes(settings: Settings, field: str) -> frozenset[int]:
    ids = set()
    for value in getattr(settings, field):
        if not value.isdigit():
            raise InvalidDiscordId(messages.DISCORD_BAD_ID.format(setting=field.upper(), value=value))
        ids.add(int(value))
    return frozenset(ids)


@dataclass(frozen=True)
class DiscordIds:
    admin_users: frozenset[int]
    admin_roles: frozenset[int]
    guilds: frozenset[int]
    auto_caption_channels: frozenset[int]

    @classmethod
    def from_settings(cls, settings: Settings) -> "DiscordIds":
        return cls(
            admin_users=_snowflakes(settings, "discord_admin_user_ids"),
            admin_roles=_snowflakes(settings, "discord_admin_role_ids"),
            guilds=_snowflakes(settings, "discord_guild_ids"),
            auto_caption_channels=_snowflakes(settings, "discord_auto_caption_channels"),
        )
