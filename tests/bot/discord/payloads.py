"""Gateway and REST payloads shaped like the ones Discord sends (API v10), for feeding the real discord.py."""

import itertools
import time
from datetime import UTC, datetime

from discord.utils import DISCORD_EPOCH

MESSAGE_CONTENT_INTENT = 1 << 15
EPHEMERAL = 64
_sequence = itertools.count()


def snowflake() -> str:
    """A fresh id carrying the current time, as Discord's do (discord.py reads `created_at` from it)."""
    milliseconds = int(time.time() * 1000) - DISCORD_EPOCH
    return str((milliseconds << 22) | (next(_sequence) % 4096))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def user(user_id: str, username: str, *, bot: bool = False) -> dict:
    data = {
        "id": user_id,
        "username": username,
        "global_name": None if bot else username.title(),
        "discriminator": "4821" if bot else "0",
        "avatar": None,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "collectibles": None,
        "primary_guild": None,
    }
    if bot:
        data["bot"] = True
    return data


def member(user_data: dict | None, roles: list[str], permissions: str | None = None) -> dict:
    """A guild member; interactions add the member's `permissions`, messages leave out the `user`."""
    data = {
        "roles": roles,
        "nick": None,
        "avatar": None,
        "banner": None,
        "joined_at": now_iso(),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
        "unusual_dm_activity_until": None,
    }
    if user_data is not None:
        data["user"] = user_data
    if permissions is not None:
        data["permissions"] = permissions
    return data


def role(role_id: str, name: str, position: int, permissions: str = "0") -> dict:
    return {
        "id": role_id,
        "name": name,
        "description": None,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": permissions,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def text_channel(channel_id: str, guild_id: str, name: str, position: int = 0) -> dict:
    return {
        "id": channel_id,
        "type": 0,
        "guild_id": guild_id,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def guild_create(guild_id: str, owner_id: str, channels: list[dict], roles: list[dict], members: list[dict]) -> dict:
    return {
        "id": guild_id,
        "name": "Caption Club",
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": owner_id,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "roles": roles,
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": channels[0]["id"],
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "nsfw": False,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "joined_at": now_iso(),
        "large": False,
        "lazy": True,
        "unavailable": False,
        "member_count": len(members),
        "members": members,
        "channels": channels,
        "threads": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def ready(bot_user: dict, application_id: str, guild_ids: list[str], resume_url: str) -> dict:
    return {
        "v": 10,
        "user": {**bot_user, "verified": True, "mfa_enabled": False, "email": None},
        "guilds": [{"id": guild_id, "unavailable": True} for guild_id in guild_ids],
        "session_id": snowflake(),
        "session_type": "normal",
        "resume_gateway_url": resume_url,
        "application": {"id": application_id, "flags": 1 << 19},  # GATEWAY_MESSAGE_CONTENT_LIMITED
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": ["us-east"],
        "user_settings": {},
        "_trace": ['["gateway-prd-test",{"micros":1000}]'],
    }


def application(application_id: str, owner: dict) -> dict:
    """GET /oauth2/applications/@me."""
    return {
        "id": application_id,
        "name": "captionbot",
        "icon": None,
        "description": "Image captions",
        "summary": "",
        "type": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": 1 << 19,
        "owner": owner,
        "team": None,
        "hook": True,
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "tags": [],
        "integration_types_config": {"0": {}},
    }


def attachment(
    url: str,
    filename: str,
    size: int,
    content_type: str | None,
    *,
    width: int | None = None,
    height: int | None = None,
    ephemeral: bool = False,
) -> dict:
    data = {
        "id": url.rsplit("/", 2)[-2],
        "filename": filename,
        "size": size,
        "url": url + "?ex=6a1b2c3d&is=6a19dabd&hm=5f0c2c7e9a&",
        "proxy_url": url + "?ex=6a1b2c3d&is=6a19dabd&hm=5f0c2c7e9a&",
    }
    if content_type is not None:
        data["content_type"] = content_type
    if width is not None:
        data.update(width=width, height=height, placeholder="1/cFBQBGd4eIiHh3h4d4iHeIhw==", placeholder_version=1)
    if ephemeral:
        data["ephemeral"] = True
    return data


def message(
    message_id: str,
    channel_id: str,
    guild_id: str | None,
    author: dict,
    content: str = "",
    attachments: list[dict] = (),
    mentions: list[dict] = (),
    author_member: dict | None = None,
) -> dict:
    data = {
        "id": message_id,
        "type": 0,
        "channel_id": channel_id,
        "author": author,
        "content": content,
        "timestamp": now_iso(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": list(mentions),
        "mention_roles": [],
        "attachments": list(attachments),
        "embeds": [],
        "components": [],
        "pinned": False,
        "flags": 0,
        "nonce": snowflake(),
        "channel_type": 0 if guild_id else 1,
    }
    if guild_id is not None:
        data["guild_id"] = guild_id
        data["member"] = author_member
    return data


def interaction(
    application_id: str, guild_id: str, channel: dict, member_data: dict, data: dict, app_permissions: str
) -> dict:
    """INTERACTION_CREATE for an application command run in a guild channel."""
    return {
        "id": snowflake(),
        "application_id": application_id,
        "type": 2,
        "data": data,
        "guild": {"id": guild_id, "locale": "en-US", "features": []},
        "guild_id": guild_id,
        "channel": channel,
        "channel_id": channel["id"],
        "member": member_data,
        "token": "aW50ZXJhY3Rpb246" + snowflake(),
        "version": 1,
        "app_permissions": app_permissions,
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": guild_id},
        "context": 0,
        "attachment_size_limit": 10 * 1024 * 1024,
    }


OPTION_TYPES = {str: 3, int: 4, bool: 5, float: 10}


def slash_data(command: dict, guild_id: str, options: dict[str, object], attachments: dict[str, dict]) -> dict:
    """`data` of a chat input command: options typed as Discord types them, attachments by id in `resolved`."""
    rendered = [{"name": name, "type": 11, "value": a["id"]} for name, a in attachments.items()]
    rendered += [{"name": name, "type": OPTION_TYPES[type(value)], "value": value} for name, value in options.items()]
    data = {"id": command["id"], "name": command["name"], "type": 1, "guild_id": guild_id, "options": rendered}
    if attachments:
        data["resolved"] = {"attachments": {a["id"]: a for a in attachments.values()}}
    return data


def message_command_data(command: dict, guild_id: str, target: dict) -> dict:
    return {
        "id": command["id"],
        "name": command["name"],
        "type": 3,
        "guild_id": guild_id,
        "target_id": target["id"],
        "resolved": {"messages": {target["id"]: target}},
    }
