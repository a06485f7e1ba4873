"""Clicks and form submissions as Discord sends them (INTERACTION_CREATE of type 3, message component, and 5,
modal submit), built from what the bot really sent: the reply's components, the modal's text inputs."""

from tests.bot.discord import payloads as p
from tests.bot.discord.harness import ALL_PERMISSIONS, Harness, Person

MESSAGE_COMPONENT, MODAL_SUBMIT = 3, 5
BUTTON, TEXT_INPUT = 2, 4


def custom_ids(body: dict) -> list[str]:
    """Every button's custom_id in a message the bot sent (its request body), row by row."""
    return [item["custom_id"] for row in body.get("components", []) for item in row["components"]]


def sent_message(h: Harness, body: dict) -> dict:
    """The message Discord stored for a reply the bot sent: its embeds and components as the bot sent them."""
    data = p.message(p.snowflake(), h.fake.channel["id"], h.fake.guild_id, h.fake.bot_user, body.get("content") or "")
    data.update(embeds=body.get("embeds", []), components=body.get("components", []), flags=body.get("flags", 0),
                member=p.member(None, []))
    return data


def _interaction(h: Harness, person: Person, kind: int, data: dict) -> dict:
    member = p.member(person.user, person.roles, person.permissions)
    interaction = p.interaction(h.fake.application_id, h.fake.guild_id, h.fake.channel, member, data, ALL_PERMISSIONS)
    interaction["type"] = kind
    return interaction


async def click(h: Harness, person: Person, message: dict, custom_id: str) -> dict:
    data = {"custom_id": custom_id, "component_type": BUTTON}
    interaction = {**_interaction(h, person, MESSAGE_COMPONENT, data), "message": message}
    await h.fake.dispatch("INTERACTION_CREATE", interaction)
    return interaction


def _filled(component: dict, value: str) -> dict:
    if component["type"] == TEXT_INPUT:
        return {"type": TEXT_INPUT, "custom_id": component["custom_id"], "value": value}
    if "components" in component:
        return {"type": component["type"], "components": [_filled(c, value) for c in component["components"]]}
    return {"type": component["type"], "component": _filled(component["component"], value)}  # a label


async def submit(h: Harness, person: Person, modal: dict, value: str) -> dict:
    """Submit the modal the bot opened (`modal`: its callback's data) with `value` in its text input."""
    data = {"custom_id": modal["custom_id"], "components": [_filled(c, value) for c in modal["components"]]}
    interaction = _interaction(h, person, MODAL_SUBMIT, data)
    await h.fake.dispatch("INTERACTION_CREATE", interaction)
    return interaction
