"""`/reload-model` and `/models` are for admins by user or role id; Manage Server (the hint that hides them) is not
enough. Workers are not needed to see who gets through: on a Redis database no worker uses, none answers."""

import logging

import pytest

from captionbot.bot import messages
from tests.bot.discord import payloads as p
from tests.bot.discord.harness import ALL_PERMISSIONS, async_test, running_bot

NO_WORKERS_DB = 7  # no worker in the test suite uses this Redis database


@pytest.fixture()
def no_worker_settings(idle_settings):
    return idle_settings.model_copy(
        update={
            "redis_url": type(idle_settings.redis_url)(
                idle_settings.redis_url.get_secret_value().rsplit("/", 1)[0] + f"/{NO_WORKERS_DB}"
            )
        }
    )


@pytest.mark.parametrize("command", ["reload-model", "models"])
@pytest.mark.parametrize("permissions", ["1071698660929", ALL_PERMISSIONS], ids=["member", "server-admin"])
@async_test
async def test_someone_not_in_the_admin_ids_is_refused_even_with_server_admin_permissions(
    no_worker_settings, command, permissions, caplog
):
    caplog.set_level(logging.WARNING)
    async with running_bot(no_worker_settings) as h:
        person = h.person("mallory", permissions=permissions)
        interaction = await h.slash(person, command, **({"version": "v2"} if command == "reload-model" else {}))
        await h.answer(interaction)
        (callback,) = [c for c in h.fake.calls if c.path.startswith(f"/interactions/{interaction['id']}/")]
        followups = h.fake.calls_to("POST", f"/webhooks/{h.fake.application_id}/{interaction['token']}")
    assert (callback.body["type"], callback.body["data"]["flags"]) == (4, p.EPHEMERAL)
    assert callback.body["data"]["content"] == messages.ADMIN_ONLY
    assert followups == []  # refused before anything ran
    assert f"user {person.id} was refused /{command}: not an admin" in caplog.text


@pytest.mark.parametrize("who", ["admin role", "admin user id"])
@async_test
async def test_admins_by_role_or_user_id_get_through(no_worker_settings, who):
    async with running_bot(no_worker_settings) as h:
        person = h.admin() if who == "admin role" else h.owner()
        interaction = await h.slash(person, "reload-model", version="v2")
        answer = await h.answer(interaction)
    assert h.callback(interaction).body == {"type": 5, "data": {"flags": p.EPHEMERAL}}
    (embed,) = answer.body["embeds"]
    assert embed["title"] == messages.DISCORD_RELOAD_TITLE.format(version="v2")
    assert embed["description"] == messages.RELOAD_NO_WORKERS
    assert answer.body["flags"] == p.EPHEMERAL


@async_test
async def test_the_version_option_is_as_long_as_a_registry_name_and_a_refusal_of_the_longest_fits(no_worker_settings):
    async with running_bot(no_worker_settings) as h:
        (version,) = h.fake.commands["reload-model"]["options"]
        interaction = await h.slash(h.admin(), "reload-model", version="-" * 64)
        answer = await h.answer(interaction)
    assert (version["min_length"], version["max_length"]) == (1, 64)
    assert answer.ephemeral and "is not a valid version name" in answer.body["embeds"][0]["description"]


@async_test
async def test_a_version_name_that_is_a_path_is_refused(no_worker_settings):
    async with running_bot(no_worker_settings) as h:
        interaction = await h.slash(h.admin(), "reload-model", version="../../etc")
        (embed,) = (await h.answer(interaction)).body["embeds"]
    assert embed["description"].startswith("'../../etc' is not a valid version name")
